//! Renderings of a [`crate::plan::Plan`]: text for terminals, JSON for automation, Markdown for
//! pull-request comments. Renderers are pure functions from a plan to a `String`; the caller
//! decides where it goes and whether colour is wanted.

pub mod drift;
pub mod json;
pub mod markdown;
pub mod review;
pub mod section;
pub mod text;

#[cfg(test)]
mod tests;

/// Formats seconds as a short human duration (`45s`, `12m 30s`, `2h 05m`).
pub fn duration(secs: u64) -> String {
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        let s = secs % 60;
        if s == 0 {
            format!("{}m", secs / 60)
        } else {
            format!("{}m {:02}s", secs / 60, s)
        }
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}
