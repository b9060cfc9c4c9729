//! docs/formats.md and docs/formats.schema.json against the one schema of
//! the run-directory files (src/rundir/schema.rs). `SEQLEARN_BLESS=1`
//! rewrites both from the schema.

use std::path::{Path, PathBuf};

use seqlearn_nest::rundir::schema;

const BEGIN: &str = "<!-- schema:begin -->\n";
const END: &str = "<!-- schema:end -->\n";

fn docs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

fn bless() -> bool {
    std::env::var_os("SEQLEARN_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn formats_md_tables_are_generated_from_the_schema() {
    let path = docs("formats.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let a = text
        .find(BEGIN)
        .expect("docs/formats.md has the schema:begin marker")
        + BEGIN.len();
    let b = text
        .find(END)
        .expect("docs/formats.md has the schema:end marker");
    let expected = schema::markdown();
    if bless() {
        let new = format!("{}{expected}{}", &text[..a], &text[b..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    assert!(
        text[a..b] == expected,
        "docs/formats.md differs from src/rundir/schema.rs; run SEQLEARN_BLESS=1 cargo test --test formats"
    );
}

#[test]
fn formats_schema_json_is_the_schema() {
    let path = docs("formats.schema.json");
    let expected = serde_json::to_string_pretty(&schema::to_json()).unwrap() + "\n";
    if bless() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "docs/formats.schema.json differs from src/rundir/schema.rs; run SEQLEARN_BLESS=1 cargo test --test formats"
    );
}

#[test]
fn every_documented_column_has_a_type_unit_and_description() {
    let json = schema::to_json();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), schema::FILES.len());
    for f in files {
        for c in f["columns"].as_array().unwrap() {
            assert!(
                !c["description"].as_str().unwrap().is_empty(),
                "{}: {}",
                f["name"],
                c["name"]
            );
            let ty = c["type"].as_str().unwrap();
            assert!(["uint", "float", "bool", "str", "enum"].contains(&ty));
            if ty == "float" {
                assert!(
                    c["unit"].is_string(),
                    "{}: {} has a unit",
                    f["name"],
                    c["name"]
                );
            }
            if ty == "enum" {
                assert!(!c["values"].as_array().unwrap().is_empty());
            }
        }
    }
}

#[test]
fn every_summary_key_is_documented() {
    let text = std::fs::read_to_string(docs("formats.md")).unwrap();
    let section = &text[text.find("## Summary").unwrap()..];
    let summary = serde_json::json!({
        "config": seqlearn_nest::model::config::Config::default(),
        "seed": 1, "backend": "native", "threads": 1,
        "parallel": {"ranks": 1, "threads_per_rank": 1, "virtual_processes": 1},
        "versions": {"seqlearn_nest": "x", "engine": "y"},
        "replay": null, "forced_spikes": null, "simulated_ms": 1.0,
        "wall_s": {"build": 0.0, "simulate": 0.0, "write": 0.0, "total": 0.0},
        "rtf": 1.0,
        "counts": {"circuits": 1, "neurons": 2, "synapses": 3, "input_spikes": 4,
                   "network_spikes": 5}
    });
    // the document above is a valid summary, and round-trips unchanged
    let typed: seqlearn_nest::rundir::Summary = serde_json::from_value(summary.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), summary);
    for (k, v) in summary.as_object().unwrap() {
        assert!(
            section.contains(&format!("\"{k}\"")),
            "summary key {k} documented"
        );
        if let (Some(m), false) = (v.as_object(), k == "config") {
            for sub in m.keys() {
                assert!(
                    section.contains(&format!("\"{sub}\"")),
                    "{k}.{sub} documented"
                );
            }
        }
    }
}
