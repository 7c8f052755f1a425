//! Headless Chromium (Debian's `chromium`) for tests of what people look at: the DOM a page
//! becomes, and a screenshot of it. The flags keep Chromium off the network (this machine's
//! closed network refuses its background connections) and out of any profile.
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser: `$CHROMIUM`, else /usr/bin/chromium. `make test` installs it when missing.
fn program() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !path.exists() {
        bail!(
            "{} is missing: install Debian's chromium (`apt-get install chromium`; `make test` does it through \
             .ci/ensure-tools) or point $CHROMIUM at a Chromium",
            path.display()
        );
    }
    Ok(path)
}

fn run(page: &Path, extra: &[String]) -> anyhow::Result<std::process::Output> {
    let profile = std::env::temp_dir().join(format!("chromium-profile-{}", std::process::id()));
    let url = format!("file://{}", page.canonicalize().with_context(|| format!("{}", page.display()))?.display());
    let mut command = Command::new(program()?);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display())).args(extra).arg(url);
    let out = command.output().context("starting chromium")?;
    let _ = std::fs::remove_dir_all(&profile);
    if !out.status.success() {
        bail!("chromium failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(out)
}

/// The page's DOM after Chromium loaded it.
pub fn dump_dom(page: &Path) -> anyhow::Result<String> {
    let out = run(page, &["--dump-dom".to_string()])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A PNG of the page at `size` (width, height) pixels.
pub fn screenshot(page: &Path, png: &Path, size: (u32, u32)) -> anyhow::Result<()> {
    let extra = [format!("--screenshot={}", png.display()), format!("--window-size={},{}", size.0, size.1)];
    run(page, &extra)?;
    if !png.exists() {
        bail!("chromium wrote no screenshot to {}", png.display());
    }
    Ok(())
}
