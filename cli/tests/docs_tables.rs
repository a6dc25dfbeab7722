//! The README's "Where each part lives" table names every command the tool has and every
//! module the core exports, so that a reader can trust it. This test keeps it true: a new
//! command or module that the table leaves out, or a row that names one that is gone, fails.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The README table row whose first cell is `` `first_cell` ``.
fn readme_row(first_cell: &str) -> String {
    let readme = repo_file("README.md");
    let prefix = format!("| `{first_cell}` |");
    readme
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("README.md has no table row for `{first_cell}`"))
        .to_owned()
}

/// The names between backticks in a line, in order.
fn backticked(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The subcommand names a `--help` text lists under "Commands:", without `help`.
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{args:?} --help failed");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_names_every_command_and_no_other() {
    let mut from_help = BTreeSet::new();
    for command in subcommands(&[]) {
        let nested = subcommands(&[&command]);
        if nested.is_empty() {
            from_help.insert(command);
        } else {
            from_help.extend(nested.into_iter().map(|sub| format!("{command} {sub}")));
        }
    }
    assert!(
        from_help.len() > 10,
        "parsed too few commands: {from_help:?}"
    );

    // The row writes `policy sign/verify/check` for three commands.
    let row = readme_row("cli/");
    let mut from_readme = BTreeSet::new();
    for item in backticked(&row).into_iter().skip(2) {
        // Skipped: the path and the binary's name.
        match item.split_once(' ') {
            Some((command, subs)) => {
                for sub in subs.split('/') {
                    from_readme.insert(format!("{command} {sub}"));
                }
            }
            None => {
                from_readme.insert(item.to_owned());
            }
        }
    }
    let missing: Vec<_> = from_help.difference(&from_readme).collect();
    let stale: Vec<_> = from_readme.difference(&from_help).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's `cli/` row is out of date: missing {missing:?}, names commands that do not exist {stale:?}"
    );
}

#[test]
fn readme_names_every_core_module_and_no_other() {
    let lib = repo_file("core/src/lib.rs");
    let from_code: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(
        from_code.contains("agent"),
        "parsed no modules from core/src/lib.rs"
    );

    let row = readme_row("core/");
    let from_readme: BTreeSet<&str> = backticked(&row)
        .into_iter()
        .skip(2) // the path and the crate name
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    let missing: Vec<_> = from_code.difference(&from_readme).collect();
    let stale: Vec<_> = from_readme.difference(&from_code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's `core/` row is out of date: missing {missing:?}, names modules that do not exist {stale:?}"
    );
}
