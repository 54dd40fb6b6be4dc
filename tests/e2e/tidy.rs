//! The map cannot drift from the code: ARCHITECTURE.md's table of what may depend on what is
//! checked against the real dependency graph (`cargo metadata`), every `pub mod` against its
//! crate's documented layout, README's layout table against the crates, and production code
//! against the rule that files from outside are read and written only through pass-files.
//! Run alone with `cargo test -p pass-e2e tidy`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The workspace's root, canonical (cargo metadata's paths are).
fn root() -> std::path::PathBuf {
    crate::util::root().canonicalize().expect("the workspace root")
}

/// One row of ARCHITECTURE.md's "What may depend on what": the crates it names and the two
/// columns as written.
struct Rule {
    crates: Vec<String>,
    may: String,
    must_not: String,
}

fn rules(architecture: &str) -> Vec<Rule> {
    let section = architecture
        .split("## What may depend on what")
        .nth(1)
        .expect("ARCHITECTURE.md has a section 'What may depend on what'");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| crate"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let crates = cells[1].split(',').map(|c| c.trim().trim_matches('`').to_owned()).collect();
            Rule { crates, may: cells[2].to_owned(), must_not: cells[3].to_owned() }
        })
        .collect()
}

/// Whether `text` names the crate `name` as a whole word (`pass-core`, not `pass-core-x`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        // `pass-core's sign` names a feature, not the crate.
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '\'');
        !part(before) && !part(after)
    })
}

/// The workspace's packages: name → (directory, normal dependencies with their features).
type Packages = BTreeMap<String, (String, Vec<(String, Vec<String>)>)>;

/// The workspace's packages, from `cargo metadata`.
fn packages() -> Packages {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let manifest = p["manifest_path"].as_str().unwrap_or_default();
            let dir = Path::new(manifest).parent().unwrap().strip_prefix(root()).unwrap().display().to_string();
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| {
                    let features = d["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned());
                    (d["name"].as_str().unwrap().to_owned(), features.collect())
                })
                .collect();
            (p["name"].as_str().unwrap().to_owned(), (dir, deps))
        })
        .collect()
}

/// Every problem of the dependency rules: a crate without a row, a checkpass dependency its
/// row does not allow or forbids, `sign` where the row says otherwise, a test tool as a
/// normal dependency of a production crate.
fn dependency_problems(architecture: &str, packages: &Packages) -> Vec<String> {
    let rules = rules(architecture);
    let test_tools: Vec<&str> = rules
        .iter()
        .filter(|r| r.must_not.contains("normal dependency of a production crate"))
        .flat_map(|r| r.crates.iter().map(String::as_str))
        .collect();
    let mut problems = Vec::new();
    for (name, (_, deps)) in packages {
        let Some(rule) = rules.iter().find(|r| r.crates.iter().any(|c| c == name)) else {
            problems.push(format!("{name} has no row in ARCHITECTURE.md's 'What may depend on what'"));
            continue;
        };
        let production = !test_tools.contains(&name.as_str());
        for (dep, features) in deps {
            if names(&rule.must_not, dep) {
                problems.push(format!("{name} depends on {dep}, which its row forbids"));
            }
            if dep.starts_with("pass-") && !names(&rule.may, dep) && production {
                problems.push(format!("{name} depends on {dep}, which its row does not allow"));
            }
            if production && test_tools.contains(&dep.as_str()) {
                problems.push(format!("{name} has the test tool {dep} as a normal dependency"));
            }
            if dep == "pass-core" && production {
                let signs = features.iter().any(|f| f == "sign");
                if rule.may.contains("pass-core **with `sign`**") && !signs {
                    problems
                        .push(format!("{name}: its row says pass-core with `sign`, its manifest does not ask for it"));
                }
                if rule.may.contains("pass-core **without `sign`**") && signs {
                    problems.push(format!("{name}: its row says pass-core without `sign`, its manifest asks for it"));
                }
            }
        }
    }
    for rule in &rules {
        for name in &rule.crates {
            if !packages.contains_key(name) {
                problems.push(format!("ARCHITECTURE.md has a row for {name}, which is not in the workspace"));
            }
        }
    }
    problems
}

#[test]
fn tidy_the_dependency_rules_hold() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let packages = packages();
    let problems = dependency_problems(&architecture, &packages);
    assert!(problems.is_empty(), "ARCHITECTURE.md and the dependency graph disagree:\n  {}", problems.join("\n  "));
}

/// The check itself can fail: pass-office given pass-server as a dependency breaks the rules.
#[test]
fn tidy_a_forbidden_edge_is_caught() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut packages = packages();
    packages.get_mut("pass-office").expect("pass-office").1.push(("pass-server".into(), Vec::new()));
    packages.get_mut("pass-verifier").expect("pass-verifier").1.push(("pass-core".into(), vec!["sign".into()]));
    let problems = dependency_problems(&architecture, &packages);
    assert!(problems.iter().any(|p| p.contains("pass-office depends on pass-server")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("pass-verifier: its row says pass-core without `sign`")),
        "{problems:?}"
    );
}

#[test]
fn tidy_every_public_module_is_in_its_crates_layout() {
    let mut problems = Vec::new();
    for (name, (dir, _)) in packages() {
        let lib = root().join(&dir).join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else { continue };
        let doc: String = text.lines().filter(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        for line in text.lines() {
            let Some(module) = line.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')) else { continue };
            if !doc.contains(&format!("`{module}`")) {
                problems.push(format!("{name}: pub mod {module} is not in the crate's documented layout"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn tidy_the_readme_layout_names_every_crate() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let missing: Vec<String> = packages()
        .into_iter()
        .filter(|(name, (dir, _))| !(readme.contains(&format!("`{dir}`")) && readme.contains(&format!("`{name}`"))))
        .map(|(name, (dir, _))| format!("{dir} ({name})"))
        .collect();
    assert!(missing.is_empty(), "README's layout table lacks: {}", missing.join(", "));
}

/// Production code reads and writes files from outside through pass-files (whole-or-nothing
/// writes, capped reads), never `std::fs::read`/`write` directly. Test modules, test tools and
/// pass-files itself aside; a line may say `tidy: allow-fs` with its reason.
#[test]
fn tidy_files_go_through_pass_files() {
    let calls = ["fs::read(", "fs::read_to_string(", "fs::write("];
    let test_tools = ["pass-camsim", "pass-loadtest", "pass-e2e", "pass-files"];
    let mut problems = Vec::new();
    for (name, (dir, _)) in packages() {
        if test_tools.contains(&name.as_str()) {
            continue;
        }
        let mut stack = vec![root().join(&dir).join("src")];
        while let Some(path) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&path) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // The test module, by convention at the end of a file.
                let production = text.split("#[cfg(test)]").next().unwrap_or_default();
                let production = production.split("#[cfg(all(test").next().unwrap_or_default();
                for (n, line) in production.lines().enumerate() {
                    if calls.iter().any(|c| line.contains(c)) && !line.contains("tidy: allow-fs") {
                        let shown = path.strip_prefix(root()).unwrap().display();
                        problems.push(format!("{shown}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "read or write through pass-files (capped, whole or nothing):\n  {}",
        problems.join("\n  ")
    );
}
