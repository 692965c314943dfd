//! Every shell command the READMEs show still works: each `poolbench`
//! command parses as written (`--dry-run`: no server is needed), each
//! `cargo run --example` names an example that exists, each script or path
//! named exists. A command this check does not know fails it, so a new
//! one is checked too.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The READMEs: the workspace's and each crate's.
fn readmes() -> Vec<PathBuf> {
    let root = workspace();
    let mut all = vec![root.join("README.md")];
    for entry in std::fs::read_dir(&root).expect("the workspace directory") {
        let readme = entry.expect("an entry").path().join("README.md");
        if readme.is_file() {
            all.push(readme);
        }
    }
    all
}

/// The lines of every ```sh block of `text`, with `\` continuations joined.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(trimmed);
        commands.push(std::mem::take(&mut pending));
    }
    commands
}

/// Splits a command line at spaces, keeping `"..."` and `'...'` together.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Checks one command; `Err` says what is wrong with it.
fn check(command: &str) -> Result<(), String> {
    let root = workspace();
    // Leading VAR=value assignments do not change what is checked.
    let all = words(command);
    let w: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .collect();
    let poolbench_args = match w.as_slice() {
        ["poolbench", rest @ ..] => Some(rest.to_vec()),
        [
            "cargo",
            "run",
            "--release",
            "-p",
            "poolbench",
            "--",
            rest @ ..,
        ] => Some(rest.to_vec()),
        _ => None,
    };
    if let Some(args) = poolbench_args {
        let out = Command::new(env!("CARGO_BIN_EXE_poolbench"))
            .args(&args)
            .arg("--dry-run")
            .output()
            .map_err(|e| format!("cannot run poolbench: {e}"))?;
        return if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "poolbench refuses it: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        };
    }
    let example = w
        .iter()
        .position(|&x| x == "--example")
        .and_then(|i| w.get(i + 1));
    match (w.as_slice(), example) {
        (["cargo", "run", ..], Some(example)) => {
            let file = root.join("benches/examples").join(format!("{example}.rs"));
            let in_crate = root
                .join("pool-core/examples")
                .join(format!("{example}.rs"));
            if file.is_file() || in_crate.is_file() {
                Ok(())
            } else {
                Err(format!("no example {example}"))
            }
        }
        (["cargo", "install", "--path", path], _) => {
            if root.join(path).is_dir() {
                Ok(())
            } else {
                Err(format!("no directory {path}"))
            }
        }
        ([script, ..], _) if script.starts_with("bin/") || script.starts_with("scripts/") => {
            if root.join(script).is_file() {
                Ok(())
            } else {
                Err(format!("no script {script}"))
            }
        }
        _ => Err("a command this check does not know: teach poolbench/tests/readme.rs".into()),
    }
}

#[test]
fn every_readme_command_still_works() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for readme in readmes() {
        let text = std::fs::read_to_string(&readme).expect("a readable README");
        for command in shell_commands(&text) {
            checked += 1;
            if let Err(why) = check(&command) {
                failures.push(format!("{}: `{command}`: {why}", readme.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 8,
        "only {checked} commands found: the parser is off"
    );
}

#[test]
fn a_command_that_no_longer_parses_is_caught() {
    assert!(check("poolbench --pool-sizes 2,x --concurrency 5").is_err());
    assert!(check("poolbench --no-such-option").is_err());
    assert!(check("cargo run --release -p pool-benches --example no_such_example").is_err());
    assert!(check("poolbench --url redis://host:6379 --pool-sizes 2,4 --concurrency 5").is_ok());
}
