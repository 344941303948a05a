//! The OpenAPI document: a reviewed snapshot, and that it covers every route
//! `askgate_http::configure` registers.

use std::collections::BTreeSet;

use actix_web::test as actix_test;
use actix_web::{App, HttpRequest, HttpResponse, web};

/// Paths registered on purpose without being operations of the API.
const NOT_DOCUMENTED: &[&str] = &[
    // The document itself and Swagger UI.
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/{_:.*}",
    // This test's own probe.
    PROBE,
];

const PROBE: &str = "/__resource_map";

#[test]
fn openapi_document_matches_snapshot() {
    let document = serde_json::to_value(askgate_http::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}

#[test]
fn openapi_document_is_version_3_1_with_a_bearer_scheme() {
    let document = serde_json::to_value(askgate_http::openapi::document()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // A signed-in endpoint names the scheme and documents the 401 problem.
    let chat = &document["paths"]["/api/askatt/chat"]["post"];
    assert_eq!(chat["security"][0]["bearer"], serde_json::json!([]));
    assert!(chat["responses"]["401"]["content"]["application/problem+json"].is_object());
    assert!(chat["responses"]["402"]["content"]["application/problem+json"].is_object());
}

#[test]
fn tags_are_declared_once_and_operation_ids_are_unique() {
    let document = serde_json::to_value(askgate_http::openapi::document()).unwrap();
    let names: Vec<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let declared: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        declared.len(),
        names.len(),
        "a tag declared twice: {names:?}"
    );
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                operation_ids.insert(id.to_owned()),
                "{method} {path}: operationId {id} again"
            );
            for tag in operation["tags"].as_array().into_iter().flatten() {
                let tag = tag.as_str().unwrap();
                assert!(
                    declared.contains(tag),
                    "{method} {path}: undeclared tag {tag}"
                );
            }
        }
    }
}

#[test]
fn both_chat_routes_document_their_event_stream_and_its_events() {
    let document = serde_json::to_value(askgate_http::openapi::document()).unwrap();
    for route in ["/api/askatt/chat", "/api/askdocs/chat"] {
        let ok = &document["paths"][route]["post"]["responses"]["200"]["content"];
        assert!(ok["application/json"].is_object(), "{route}");
        assert!(ok["text/event-stream"].is_object(), "{route}");
    }
    let schemas = &document["components"]["schemas"];
    for event in [
        "StartEvent",
        "DeltaEvent",
        "SourcesEvent",
        "DoneEvent",
        "ErrorEvent",
    ] {
        assert!(
            schemas[event]["properties"].is_object() || schemas[event]["allOf"].is_array(),
            "{event}"
        );
    }
    assert!(schemas["ErrorEvent"].to_string().contains("partial_kept"));
}

#[actix_web::test]
async fn every_registered_route_is_in_the_openapi_document() {
    let registered = registered_paths().await;
    let document = serde_json::to_value(askgate_http::openapi::document()).unwrap();
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let expected: BTreeSet<String> = registered
        .into_iter()
        .filter(|p| !NOT_DOCUMENTED.contains(&p.as_str()))
        .collect();
    let undocumented: Vec<_> = expected.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&expected).collect();
    assert!(
        undocumented.is_empty(),
        "routes without #[utoipa::path] in openapi::ApiDoc: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented paths that are not routed: {unrouted:?}"
    );
}

/// Every full path actix registered for `configure`, read from its resource
/// map (the only view actix gives of its routing table).
async fn registered_paths() -> BTreeSet<String> {
    let app = actix_test::init_service(
        App::new()
            .route(PROBE, web::get().to(resource_map))
            .configure(askgate_http::configure),
    )
    .await;
    let body = actix_test::call_and_read_body(
        &app,
        actix_test::TestRequest::get().uri(PROBE).to_request(),
    )
    .await;
    let paths = leaf_paths(std::str::from_utf8(&body).unwrap());
    assert!(
        paths.contains("/api/askatt/chat") && paths.contains("/health/live"),
        "the resource map could not be read: {paths:?}"
    );
    paths
}

async fn resource_map(req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().body(format!("{:#?}", req.resource_map()))
}

/// Joins scope prefixes and resource patterns by their nesting in the
/// pretty-printed map (deeper indentation = inside the scope above).
fn leaf_paths(dump: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = dump.lines().collect();
    let mut scopes: Vec<(usize, String)> = Vec::new();
    let mut paths = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "patterns: Single(" {
            continue;
        }
        let literal = lines[i + 1];
        let indent = literal.len() - literal.trim_start().len();
        let pattern = literal
            .trim()
            .trim_end_matches(',')
            .trim_matches('"')
            .to_owned();
        let is_prefix = lines[i + 2..]
            .iter()
            .find_map(|l| l.trim().strip_prefix("is_prefix: "))
            .unwrap()
            .starts_with("true");
        while scopes.last().is_some_and(|(d, _)| *d >= indent) {
            scopes.pop();
        }
        let full: String = scopes.iter().map(|(_, p)| p.as_str()).collect::<String>() + &pattern;
        if is_prefix {
            scopes.push((indent, pattern));
        } else {
            paths.insert(full);
        }
    }
    paths
}
