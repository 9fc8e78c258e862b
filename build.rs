//! Build script: puts the commit into `gijctl --version` when building from a Git checkout.
//!
//! `GIJCTL_COMMIT` (set by a packager building from a tarball) wins; otherwise
//! `git rev-parse --short HEAD` is asked; without Git or outside a repository the version is
//! the plain package version. Never fails the build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=GIJCTL_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let from_env = std::env::var("GIJCTL_COMMIT")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let commit = from_env.or_else(|| {
        // Rebuild when HEAD moves: HEAD itself, the branch it points to, and packed refs.
        for p in ["HEAD", "packed-refs"] {
            if let Some(path) = git(&["rev-parse", "--git-path", p]) {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(path) = git(&["rev-parse", "--git-path", &r])
        {
            println!("cargo:rerun-if-changed={path}");
        }
        git(&["rev-parse", "--short=10", "HEAD"])
    });
    let pkg = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = match commit {
        Some(c)
            if c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.') =>
        {
            format!("{pkg} ({c})")
        }
        _ => pkg,
    };
    println!("cargo:rustc-env=GIJCTL_LONG_VERSION={version}");
}
