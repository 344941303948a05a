//! Derives the web UI's tables from `ui/` itself, so a new file or page cannot
//! be forgotten: every file under `ui/` (but the shell, `index.html`) becomes an
//! embedded asset, and every route of `ui/js/main.js`'s `ROUTES` a page path.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a build script reports a tree it cannot read by failing the build, with the reason"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui = manifest.join("ui");
    println!("cargo:rerun-if-changed={}", ui.display());

    let mut files = Vec::new();
    walk(&ui, &mut files);
    files.sort();
    let mut assets = String::from("static ASSETS: &[Asset] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&ui).expect("walked under ui/");
        let path = relative
            .to_str()
            .expect("UI file names are UTF-8")
            .replace('\\', "/");
        if path == "index.html" {
            continue;
        }
        let content_type = match file.extension().and_then(|e| e.to_str()) {
            Some("css") => "CSS",
            Some("js") => "JS",
            Some("svg") => "SVG",
            Some("html") => "HTML",
            other => {
                panic!("ui/{path}: no content type for extension {other:?}; add one to build.rs")
            }
        };
        let absolute = file.to_str().expect("UI paths are UTF-8");
        writeln!(
            assets,
            "    Asset {{ path: {path:?}, content_type: {content_type}, body: include_bytes!({absolute:?}), hash: fnv1a(include_bytes!({absolute:?})) }},"
        )
        .expect("writing to a String");
    }
    assets.push_str("];\n");

    let main_js = fs::read_to_string(ui.join("js/main.js")).expect("ui/js/main.js exists");
    let mut pages = String::from(
        "/// The paths the web app shows a page at (`ROUTES` in `ui/js/main.js`, and `/`).\n/// Each is answered with `index.html`.\npub const PAGE_PATHS: &[&str] = &[\n    \"/\",\n",
    );
    for route in routes(&main_js) {
        writeln!(pages, "    {route:?},").expect("writing to a String");
    }
    pages.push_str("];\n");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("ui_tables.rs"), assets + &pages).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("ui/ is readable") {
        let path = entry.expect("ui/ is readable").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The keys of `const ROUTES = { '/path': …, … };`, one per line.
fn routes(main_js: &str) -> Vec<&str> {
    let body = main_js
        .split_once("const ROUTES = {")
        .and_then(|(_, rest)| rest.split_once("};"))
        .map(|(body, _)| body)
        .expect("ui/js/main.js declares `const ROUTES = { … };`");
    let routes: Vec<&str> = body
        .lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix('\'')?
                .split_once('\'')
                .map(|(path, _)| path)
        })
        .collect();
    assert!(
        !routes.is_empty() && routes.iter().all(|r| r.starts_with('/')),
        "ui/js/main.js: ROUTES keys must be quoted paths, one per line"
    );
    routes
}
