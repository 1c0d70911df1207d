//! How the CLI talks: data on stdout, messages on stderr, errors followed by
//! a `hint:` line; colours only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;

fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn paint(code: &str, text: &str) -> String {
    if color_enabled() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Prints an error and its hint to stderr.
pub fn error(message: &str, hint: Option<&str>) {
    eprintln!("{} {message}", paint("1;31", "error:"));
    if let Some(hint) = hint {
        eprintln!("{} {hint}", paint("1;36", "hint:"));
    }
}

/// A build state, coloured as copr-cli colours it.
pub fn state(state: koper_types::BuildState) -> String {
    use koper_types::BuildState::*;
    let code = match state {
        Importing | Pending | Waiting => "34",
        Starting | Running => "33",
        Forked | Skipped | Succeeded => "32",
        Failed => "31",
        Canceled | Unknown => "0",
    };
    paint(code, state.as_str())
}

/// A moment as UTC time with how far from now it is:
/// `2026-05-04 10:20:00 UTC (in 3 min)`.
pub fn when(unix: i64) -> String {
    let now = koper_types::now_epoch();
    let stamp = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(stamp)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC");
    let delta = unix - now;
    let relative = if delta <= 0 {
        "now".to_owned()
    } else if delta < 90 {
        format!("in {delta} s")
    } else if delta < 3600 {
        format!("in {} min", (delta + 30) / 60)
    } else {
        format!("in {} h {} min", delta / 3600, (delta % 3600) / 60)
    };
    format!("{text} ({relative})")
}
