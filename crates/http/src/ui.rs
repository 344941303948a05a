//! The built-in web UI: static HTML, CSS and ES modules from `crates/http/ui/`,
//! embedded in the binary so askgate deploys as one file.
//!
//! Every page path answers with the same `index.html`; the page's modules pick
//! what to show (client-side routing). Assets live under `/ui/` and are
//! revalidated on every use (`no-cache` with a strong `ETag`), so a new release
//! is picked up at once while an unchanged file costs a `304`.
//!
//! [`security_headers`] is meant to wrap the whole application: a strict
//! Content-Security-Policy (no inline script or style, nothing from other
//! origins) and the usual anti-sniffing, referrer and framing headers.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, guard, web};

use crate::error::ApiError;

/// The Content-Security-Policy of every response. Stripe Checkout is the one
/// other origin a form may target (the page itself navigates there by URL).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self' https://checkout.stripe.com";

/// Browser features no askgate page uses, switched off for it and anything it embeds.
pub const PERMISSIONS_POLICY: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

/// `Strict-Transport-Security` when askgate is served over https: one year,
/// this host only (other hosts of the domain are not askgate's to decide).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Security headers for every response (kept when a handler already set one).
/// `https`: the public URL is https, so browsers are told to keep to it.
#[must_use]
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CROSS_ORIGIN_OPENER_POLICY, "same-origin"))
        .add(("permissions-policy", PERMISSIONS_POLICY));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY))
    } else {
        headers
    }
}

/// Registers the page paths and `/ui/{file}`. Register before any catch-all.
pub fn configure_ui(cfg: &mut web::ServiceConfig) {
    for path in PAGE_PATHS {
        cfg.service(web::resource(*path).route(read_only().to(page)));
    }
    cfg.service(web::resource("/ui/{file:.*}").route(read_only().to(asset)));
}

/// `GET` and `HEAD`: actix answers `HEAD` with the headers and no body.
fn read_only() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The page another app's sign-in opens in a popup (`/connect`, see the
/// SDK): it must keep its `window.opener` to hand the result back, which
/// `Cross-Origin-Opener-Policy: same-origin` would sever.
pub const CONNECT_PAGE: &str = "/connect";

/// `Cross-Origin-Opener-Policy` of the documents a sign-in popup of another
/// app loads (the connect page, and the sign-in callback on its way back).
pub const OPENER_KEPT: &str = "unsafe-none";

async fn page(req: HttpRequest) -> HttpResponse {
    let mut res = serve(&req, &INDEX);
    if req.path() == CONNECT_PAGE {
        res.headers_mut().insert(
            header::CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static(OPENER_KEPT),
        );
    }
    res
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.path == file.as_str())
        .map(|a| serve(&req, a))
        .ok_or_else(|| ApiError::not_found("There is no such file."))
}

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.hash);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag));
    if unchanged {
        return res.finish();
    }
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    ))
    .body(asset.body)
}

/// One embedded file.
struct Asset {
    /// Path under `/ui/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// FNV-1a of `body`, computed at compile time: the `ETag`.
    hash: u64,
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! embed {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../ui/", $path)),
            hash: fnv1a(include_bytes!(concat!("../ui/", $path))),
        }
    };
}

static INDEX: Asset = embed!("index.html", HTML);

// `ASSETS` (every file under `ui/` but the shell) and `PAGE_PATHS` (the
// routes of `ui/js/main.js`), written by build.rs.
include!(concat!(env!("OUT_DIR"), "/ui_tables.rs"));

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use actix_web::App;
    use actix_web::http::StatusCode;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};

    use super::*;

    fn ui_app() -> App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        App::new()
            .configure(configure_ui)
            .wrap(security_headers(false))
    }

    fn header(res: &actix_web::dev::ServiceResponse, name: header::HeaderName) -> &str {
        res.headers()
            .get(&name)
            .unwrap_or_else(|| panic!("missing {name}"))
            .to_str()
            .unwrap()
    }

    #[actix_web::test]
    async fn every_page_path_serves_the_app_shell() {
        let app = init_service(ui_app()).await;
        for path in PAGE_PATHS {
            let res = call_service(&app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&res, header::CONTENT_TYPE), HTML, "{path}");
            let body = read_body(res).await;
            let html = std::str::from_utf8(&body).unwrap();
            assert!(html.contains(r#"<script type="module" src="/ui/js/main.js">"#));
        }
    }

    #[actix_web::test]
    async fn a_page_path_with_a_query_string_serves_the_app_shell() {
        let app = init_service(ui_app()).await;
        let req = TestRequest::get()
            .uri("/purchase/success?session_id=cs_test_1")
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn responses_carry_the_security_headers() {
        let app = init_service(ui_app()).await;
        for uri in ["/chat", "/ui/js/main.js", "/ui/missing.js"] {
            let res = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(
                header(&res, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY,
                "{uri}"
            );
            assert_eq!(header(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert_eq!(header(&res, header::REFERRER_POLICY), "no-referrer");
            assert_eq!(header(&res, header::X_FRAME_OPTIONS), "DENY");
        }
    }

    #[actix_web::test]
    async fn the_policy_allows_no_inline_code_and_no_framing() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }

    #[actix_web::test]
    async fn assets_are_served_with_their_content_type() {
        let app = init_service(ui_app()).await;
        for (uri, content_type) in [
            ("/ui/app.css", CSS),
            ("/ui/js/main.js", JS),
            ("/ui/js/pages/chat.js", JS),
            ("/ui/favicon.svg", SVG),
        ] {
            let res = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            assert_eq!(header(&res, header::CONTENT_TYPE), content_type, "{uri}");
            assert_eq!(header(&res, header::CACHE_CONTROL), "no-cache", "{uri}");
            assert!(!read_body(res).await.is_empty(), "{uri}");
        }
    }

    #[actix_web::test]
    async fn an_unchanged_asset_is_answered_not_modified() {
        let app = init_service(ui_app()).await;
        let res = call_service(&app, TestRequest::get().uri("/ui/app.css").to_request()).await;
        let etag = header(&res, header::ETAG).to_owned();
        let req = TestRequest::get()
            .uri("/ui/app.css")
            .insert_header((header::IF_NONE_MATCH, etag.clone()))
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&res, header::ETAG), etag);
        assert!(read_body(res).await.is_empty());
    }

    #[actix_web::test]
    async fn head_requests_are_answered() {
        let app = init_service(ui_app()).await;
        let req = TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/ui/app.css")
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// The tables come from the directory: a file added to `ui/` is served
    /// without being listed anywhere, and every route of the app is a page.
    #[actix_web::test]
    async fn every_file_under_ui_is_served_and_every_route_is_a_page() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out)
                } else {
                    out.push(path)
                }
            }
        }
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut found = Vec::new();
        files(&ui, &mut found);
        let app = init_service(ui_app()).await;
        for file in found {
            let relative = file
                .strip_prefix(&ui)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            if relative == "index.html" {
                continue;
            }
            let res = call_service(
                &app,
                TestRequest::get()
                    .uri(&format!("/ui/{relative}"))
                    .to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::OK, "ui/{relative}");
            assert_eq!(
                read_body(res).await.as_ref(),
                std::fs::read(&file).unwrap(),
                "ui/{relative}"
            );
        }
        let main_js = std::fs::read_to_string(ui.join("js/main.js")).unwrap();
        for path in [
            "/signin",
            "/chat",
            "/buy",
            "/usage",
            "/profile",
            "/admin/domains",
        ] {
            assert!(
                main_js.contains(&format!("'{path}':")),
                "{path} is a route of main.js"
            );
            assert!(PAGE_PATHS.contains(&path), "{path} is a page path");
        }
    }

    #[actix_web::test]
    async fn an_unknown_asset_is_a_problem_404() {
        let app = init_service(ui_app()).await;
        for uri in [
            "/ui/nope.js",
            "/ui/",
            "/ui/../Cargo.toml",
            "/ui/js/../../src/lib.rs",
        ] {
            let res = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(
                header(&res, header::CONTENT_TYPE),
                crate::PROBLEM_JSON,
                "{uri}"
            );
        }
    }

    #[actix_web::test]
    async fn writes_to_pages_are_not_routed() {
        let app = init_service(ui_app()).await;
        let req = TestRequest::post().uri("/chat").to_request();
        let res = call_service(&app, req).await;
        assert_ne!(res.status(), StatusCode::OK);
    }

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        let html = std::str::from_utf8(INDEX.body).unwrap();
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains("<style"), "inline style");
        assert!(!html.contains(" style="), "style attribute");
        let handler = html
            .split(|c: char| c.is_whitespace())
            .any(|word| word.starts_with("on") && word.contains('='));
        assert!(!handler, "event handler attribute");
    }

    #[test]
    fn no_module_writes_html_from_strings() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let js = std::str::from_utf8(asset.body).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!js.contains(sink), "{} uses {sink}", asset.path);
            }
        }
    }
}
