//! Rules about the code itself that keep the design honest.

use std::path::Path;

/// The engine and matcher are pure: no I/O, no clock, no channel or storage crates.
#[test]
fn the_engine_and_matcher_do_no_io() {
    let forbidden = [
        "teloxide",
        "sled",
        "tokio",
        "axum",
        "reqwest",
        "std::fs",
        "std::net",
        "std::io",
        "SystemTime",
        "Instant::now",
        "std::env",
        "println!",
        "eprintln!",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for dir in ["engine", "matcher"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    if code.contains(word) {
                        offences.push(format!("{}:{}: {word}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}
