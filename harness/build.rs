//! Builds the catalog of yield points: every `yield_point!("name")` and
//! every sync site `site!("name")` (`sim_hooks::sync`) in the sources of
//! the crates that run under simulation (agent, sdk, tools), so coverage
//! can list the points a run or a sweep never reached.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const SCANNED: [&str; 3] = ["../agent/src", "../sdk/src", "../tools/src"];
const MACROS: [&str; 2] = ["yield_point!(\"", "site!(\""];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut names = BTreeSet::new();
    for dir in SCANNED {
        let dir = manifest.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        scan_dir(&dir, &mut names);
    }
    let list: Vec<String> = names.iter().map(|n| format!("    {n:?},\n")).collect();
    let out = format!(
        "/// Every yield point named in the simulated crates' sources, sorted.\n\
         pub const YIELD_POINTS: &[&str] = &[\n{}];\n",
        list.concat()
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = fs::write(out_dir.join("yield_points.rs"), out) {
        println!("cargo:warning=cannot write the yield point catalog: {e}");
    }
}

fn scan_dir(dir: &Path, names: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            scan_dir(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = fs::read_to_string(&path)
        {
            scan_text(&text, names);
        }
    }
}

fn scan_text(text: &str, names: &mut BTreeSet<String>) {
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for macro_ in MACROS {
            let mut rest = line;
            while let Some(at) = rest.find(macro_) {
                let tail = &rest[at + macro_.len()..];
                if let Some(end) = tail.find('"') {
                    names.insert(tail[..end].to_string());
                    rest = &tail[end..];
                } else {
                    break;
                }
            }
        }
    }
}
