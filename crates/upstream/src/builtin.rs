//! The built-in demo upstream: answers locally, deterministically and without
//! network, and says what it is, so askgate works end to end with nothing configured.

use askgate_domain::ledger::ServiceType;
use askgate_domain::ports::{UpstreamAnswer, UpstreamRequest};

/// How much of the question is echoed back.
const ECHO_CHARS: usize = 200;

pub(crate) fn answer(request: &UpstreamRequest) -> UpstreamAnswer {
    let service = match (request.service, &request.domain) {
        (ServiceType::AskAtt, _) => "AskAT&T".to_owned(),
        (ServiceType::AskDocs, Some(domain)) => format!("AskDocs · {}", domain.name),
        (ServiceType::AskDocs, None) => "AskDocs".to_owned(),
        (ServiceType::App, _) => "an app".to_owned(),
    };
    let question: String = request.message.as_str().chars().take(ECHO_CHARS).collect();
    let ellipsis = if request.message.as_str().chars().count() > ECHO_CHARS {
        "…"
    } else {
        ""
    };
    // The setting that would send this service's questions somewhere real.
    let configure = match request.service {
        ServiceType::AskAtt => "ASKATT_API_ENDPOINT",
        ServiceType::AskDocs => "ASKDOCS_API_BASE_ENDPOINT or the domain's api_endpoint",
        ServiceType::App => "a chat service",
    };
    let text = format!(
        "[askgate demo upstream] You asked ({service}): \u{201c}{question}{ellipsis}\u{201d} \
         This answer comes from askgate's built-in demo upstream; configure \
         {configure} for real answers."
    );
    UpstreamAnswer {
        text,
        sources: Vec::new(),
    }
}
