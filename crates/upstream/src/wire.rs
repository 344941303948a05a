//! Pieces the wire formats share.

use askgate_domain::conversation::Turn;
use serde::Serialize;
use url::Url;

/// A request could not be built or an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("upstream answer is not the expected JSON")]
    Json(#[from] serde_json::Error),
    #[error("upstream answer lacks {0}")]
    Missing(&'static str),
    #[error("domain configuration invalid: {0}")]
    Configuration(&'static str),
}

/// One earlier turn as `{"role": "user"|"assistant", "content": "..."}`.
#[derive(Serialize)]
pub(crate) struct HistoryEntry<'a> {
    role: &'static str,
    content: &'a str,
}

pub(crate) fn history(turns: &[Turn]) -> Vec<HistoryEntry<'_>> {
    turns
        .iter()
        .map(|turn| HistoryEntry {
            role: turn.author.as_str(),
            content: &turn.content,
        })
        .collect()
}

/// `base` with `suffix` appended to its path, keeping its query.
pub(crate) fn join_path(base: &Url, suffix: &str) -> Url {
    let mut url = base.clone();
    let path = format!("{}/{}", base.path().trim_end_matches('/'), suffix);
    url.set_path(&path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining_keeps_one_slash_and_the_query() {
        let joined = |base: &str| join_path(&Url::parse(base).unwrap(), "chat").to_string();
        assert_eq!(joined("http://h/api/"), "http://h/api/chat");
        assert_eq!(joined("http://h/api"), "http://h/api/chat");
        assert_eq!(joined("http://h"), "http://h/chat");
        assert_eq!(joined("http://h/api?v=2"), "http://h/api/chat?v=2");
    }
}
