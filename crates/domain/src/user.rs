//! Users and their roles.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::{Email, Tokens, UserId};

/// What a user may do: `admin`s also manage domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role must be 'user' or 'admin'")]
pub struct RoleParseError;

impl Role {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    #[must_use]
    pub const fn is_admin(self) -> bool {
        matches!(self, Self::Admin)
    }
}

impl FromStr for Role {
    type Err = RoleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(RoleParseError),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype! {
    /// The stable identity of a person at the identity provider (`users.azure_ad_id`).
    ///
    /// For Azure AD this is the `oid` claim. Development sign-ins use `dev:<email>`.
    pub struct ExternalId(String), check = ExternalIdError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("external identity must be 1 to 258 visible characters")]
pub struct ExternalIdError;

/// Longest identity accepted: room for `dev:` and the longest e-mail address
/// (254 characters), so every development sign-in can be read back.
const MAX_EXTERNAL_ID_LEN: usize = 4 + 254;

impl ExternalId {
    fn check(raw: &str) -> Result<(), ExternalIdError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_EXTERNAL_ID_LEN
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(()) } else { Err(ExternalIdError) }
    }

    /// The identity used by the development sign-in for an e-mail address.
    #[must_use]
    pub fn for_dev_login(email: &Email) -> Self {
        Self(format!("dev:{email}"))
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub external_id: ExternalId,
    pub email: Email,
    pub display_name: Option<String>,
    pub tokens: Tokens,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    /// Set while an admin has switched the account off: no sign-in, no chat,
    /// no purchase; its tokens and history stay.
    pub disabled_at: Option<DateTime<Utc>>,
    /// The role came from the sign-in (`ADMIN_EMAILS`, `ADMIN_OBJECT_IDS`, the
    /// Entra app role) and is decided again at the next one: admins cannot
    /// change it. False once an admin set the role.
    pub role_from_sign_in: bool,
}

impl User {
    #[must_use]
    pub const fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// Most app roles, and most groups, kept of one sign-in (Entra puts at most
/// 200 groups in a token).
pub const MAX_MEMBERSHIPS: usize = 500;

/// The Entra app roles (`roles` claim) and group ids (`groups` claim) of a
/// user's last sign-in: what a restricted domain is matched against. Entries
/// that could not be an allowed role (empty, too long, with whitespace or
/// control characters) are dropped, as are repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Memberships {
    roles: Vec<String>,
    groups: Vec<String>,
}

impl Memberships {
    #[must_use]
    pub fn new(roles: Vec<String>, groups: Vec<String>) -> Self {
        Self {
            roles: keep_names(roles),
            groups: keep_names(groups),
        }
    }

    /// No roles, no groups.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            roles: Vec::new(),
            groups: Vec::new(),
        }
    }

    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    #[must_use]
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Whether `name` is one of the app roles or group ids, exactly.
    #[must_use]
    pub fn holds(&self, name: &str) -> bool {
        self.roles
            .iter()
            .chain(&self.groups)
            .any(|held| held == name)
    }
}

fn keep_names(names: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for name in names {
        let ok = (1..=crate::domain::MAX_ROLE_NAME_CHARS).contains(&name.chars().count())
            && !name.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok && kept.len() < MAX_MEMBERSHIPS && !kept.contains(&name) {
            kept.push(name);
        }
    }
    kept
}

/// What a successful sign-in tells askgate about a person. Upserting it creates
/// the user on first sign-in, with `trial` tokens when neither the identity nor
/// the e-mail address had a trial before, and refreshes email, name, role and
/// `last_login` afterwards. A later sign-in never changes the balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub external_id: ExternalId,
    pub email: Email,
    pub display_name: Option<String>,
    pub role: Role,
    /// The app roles and groups the sign-in carried; they replace the stored ones.
    pub memberships: Memberships,
    pub at: DateTime<Utc>,
    /// Tokens a first sign-in gets (`TRIAL_TOKENS`); 0 grants nothing.
    pub trial: Tokens,
}

/// Trims a display name and caps it at 100 characters; blank becomes `None`.
#[must_use]
pub fn normalise_display_name(raw: Option<&str>) -> Option<String> {
    let trimmed = raw?.trim();
    if trimmed.is_empty() {
        return None;
    }
    // Control characters (NUL among them, which cannot be stored) are dropped.
    let kept: String = trimmed
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// Who is asking: the signed-in user and their role, as the HTTP layer verified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub role: Role,
}

impl Actor {
    #[must_use]
    pub const fn is_admin(&self) -> bool {
        self.role.is_admin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_of_a_dev_sign_in_with_the_longest_address_reads_back() {
        let longest = format!("{}@{}.example", "a".repeat(64), "b".repeat(181));
        let email = Email::parse(&longest).unwrap();
        assert_eq!(email.as_str().len(), 254);
        let id = ExternalId::for_dev_login(&email);
        assert_eq!(ExternalId::parse(id.as_str()), Ok(id));
        assert!(ExternalId::parse(&"x".repeat(259)).is_err());
    }

    #[test]
    fn memberships_keep_names_an_allowed_role_could_match_once_each() {
        let m = Memberships::new(
            vec![
                "Finance".into(),
                "Finance".into(),
                "with space".into(),
                String::new(),
            ],
            vec!["g-1".into(), "x".repeat(257)],
        );
        assert_eq!(m.roles(), ["Finance"]);
        assert_eq!(m.groups(), ["g-1"]);
        assert!(m.holds("g-1") && m.holds("Finance") && !m.holds("finance"));
        let many = (0..MAX_MEMBERSHIPS + 5).map(|i| format!("g{i}")).collect();
        assert_eq!(
            Memberships::new(vec![], many).groups().len(),
            MAX_MEMBERSHIPS
        );
    }

    #[test]
    fn display_names_are_trimmed_capped_and_lose_control_characters() {
        assert_eq!(
            normalise_display_name(Some("  Ann\0 Ex\u{7}ample ")),
            Some("Ann Example".to_owned())
        );
        assert_eq!(normalise_display_name(Some(" \0 ")), None);
        assert_eq!(normalise_display_name(None), None);
        let long = "é".repeat(150);
        assert_eq!(
            normalise_display_name(Some(&long)).map(|n| n.chars().count()),
            Some(100)
        );
    }
}
