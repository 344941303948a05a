//! [`string_newtype!`]: the string types that can only hold valid values.

/// Declares a string newtype with a private field, and what every one of them
/// has: `as_str`, `Display`, comparison with `str`, `TryFrom<String>` (so
/// serde parses it on the way in), `From<_> for String`, and serde as a plain
/// string.
///
/// Each type keeps its own rules and error, written next to it:
///
/// - `check = Error`: the text is taken as given once
///   `Self::check(&str) -> Result<(), Error>` accepts it; `parse` and
///   `TryFrom<String>` are generated (the latter keeps the string it is given).
/// - `parse = Error`: `Self::parse(&str) -> Result<Self, Error>` is written by
///   hand because it normalises the text (trimming, lower-casing);
///   `TryFrom<String>` calls it.
macro_rules! string_newtype {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident(String), check = $error:ty;
    ) => {
        $crate::newtype::string_newtype!(@type $(#[$meta])* $vis struct $name, $error);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, $error> {
                Self::check(raw)?;
                Ok(Self(raw.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::check(&value)?;
                Ok(Self(value))
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident(String), parse = $error:ty;
    ) => {
        $crate::newtype::string_newtype!(@type $(#[$meta])* $vis struct $name, $error);

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
    };
    (@type $(#[$meta:meta])* $vis:vis struct $name:ident, $error:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        $vis struct $name(String);

        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use string_newtype;

#[cfg(test)]
mod tests {
    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("must be lower case")]
    struct NotLower;

    string_newtype! {
        /// Lower-case text, taken as given.
        struct Lower(String), check = NotLower;
    }

    impl Lower {
        fn check(raw: &str) -> Result<(), NotLower> {
            if raw.chars().all(char::is_lowercase) {
                Ok(())
            } else {
                Err(NotLower)
            }
        }
    }

    string_newtype! {
        /// Text trimmed of spaces.
        struct Trimmed(String), parse = NotLower;
    }

    impl Trimmed {
        fn parse(raw: &str) -> Result<Self, NotLower> {
            Ok(Self(raw.trim().to_owned()))
        }
    }

    #[test]
    fn a_checked_newtype_keeps_valid_text_and_refuses_the_rest_however_it_arrives() {
        assert_eq!(
            Lower::parse("abc").map(|l| l.to_string()),
            Ok("abc".to_owned())
        );
        assert_eq!(Lower::parse("abc").unwrap().as_str(), "abc");
        assert_eq!(Lower::parse("aBc"), Err(NotLower));
        assert_eq!(Lower::try_from("aBc".to_owned()), Err(NotLower));
        assert_eq!(
            serde_json::from_str::<Lower>("\"xyz\"")
                .map(String::from)
                .ok(),
            Some("xyz".to_owned())
        );
        assert!(serde_json::from_str::<Lower>("\"XYZ\"").is_err());
        assert_eq!(
            serde_json::to_string(&Lower::parse("q").unwrap()).ok(),
            Some("\"q\"".to_owned())
        );
    }

    #[test]
    fn a_parsed_newtype_normalises_through_its_own_parse() {
        assert_eq!(
            Trimmed::try_from("  a ".to_owned()).map(|t| t.as_str().to_owned()),
            Ok("a".to_owned())
        );
    }
}
