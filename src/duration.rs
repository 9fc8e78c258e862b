//! Durations, written one way everywhere: in gij.toml (`indexing-timeout = "1h30m"`) and on
//! the command line (`--indexing-timeout 1h30m`, `--poll-interval 10ms`).
//!
//! The grammar is one or more `<digits><unit>` pairs, units `d`, `h`, `m`, `s` and `ms`, with
//! no spaces and no bare numbers: `4h`, `90m`, `1h30m`, `2d`, `500ms`. It is deliberately
//! narrower than a general duration crate's (jiff's friendly format also takes `4 hours`,
//! `1.5h` and ISO 8601): the JSON Schema carries it as a regular expression ([`PATTERN`]) so
//! an editor refuses exactly what gijctl refuses, and a wider grammar could not be written as
//! one pattern. Every use has a [`Range`], and a value outside it is an error that names the
//! range, never a silent clamp or an overflow.

use std::time::Duration;

/// The grammar as a regular expression, for the JSON Schema.
pub const PATTERN: &str = r"^([0-9]+(ms|[dhms]))+$";

/// The values a duration may take in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The shortest allowed.
    pub min: Duration,
    /// The longest allowed.
    pub max: Duration,
}

/// `[apply] indexing-timeout` and `--indexing-timeout`: initial indexing of a large
/// organisation takes hours; 30 days is longer than any indexing GIJ's docs describe, and a
/// longer value would only hide a stuck integration.
pub const INDEXING_TIMEOUT: Range = Range {
    min: Duration::from_secs(1),
    max: Duration::from_secs(30 * 86_400),
};

/// `--poll-interval` (apply, status): how often indexing progress is read.
pub const POLL_INTERVAL: Range = Range {
    min: Duration::from_millis(1),
    max: Duration::from_secs(3_600),
};

/// `status --watch --timeout`: how long to follow indexing before giving up.
pub const WATCH_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: Duration::from_secs(30 * 86_400),
};

/// `[policy] protect-indexing-longer-than`: how long an integration has been indexing.
pub const INDEXING_AGE: Range = Range {
    min: Duration::from_secs(1),
    max: Duration::from_secs(3_650 * 86_400),
};

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was written.
    #[error("empty duration")]
    Empty,
    /// A character outside the grammar.
    #[error("unexpected `{0}`")]
    Unexpected(char),
    /// A unit with no number before it.
    #[error("a number must come before `{0}`")]
    NoNumber(String),
    /// A number with no unit after it.
    #[error("every number needs a unit (d, h, m, s or ms)")]
    NoUnit,
    /// A value outside the allowed range (including one too large to represent).
    #[error("`{text}` is out of range: allowed from {} to {}", format(.range.min), format(.range.max))]
    OutOfRange {
        /// What was written.
        text: String,
        /// The allowed range.
        range: Range,
    },
}

/// How to write one, for messages that have no room for a separate help line.
pub const HINT: &str = "write numbers and units without spaces, e.g. 30s, 5m, 1h30m, 2d or 500ms";

/// [`parse`] for a command-line flag: the message carries [`HINT`] when the text is not a
/// duration at all.
pub fn parse_flag(s: &str, range: Range) -> Result<Duration, String> {
    parse(s, range).map_err(|e| match e {
        DurationError::OutOfRange { .. } => e.to_string(),
        _ => format!("`{}` is not a duration: {e}; {HINT}", s.trim()),
    })
}

/// Parses `s` and checks it against `range`.
pub fn parse(s: &str, range: Range) -> Result<Duration, DurationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let out_of_range = || DurationError::OutOfRange {
        text: t.to_owned(),
        range,
    };
    let mut total_ms: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (num, after) = rest.split_at(digits);
        let (unit_ms, unit_len): (u128, usize) = if after.starts_with("ms") {
            (1, 2)
        } else {
            match after.chars().next() {
                Some('d') => (86_400_000, 1),
                Some('h') => (3_600_000, 1),
                Some('m') => (60_000, 1),
                Some('s') => (1_000, 1),
                Some(c) => return Err(DurationError::Unexpected(c)),
                None => return Err(DurationError::NoUnit),
            }
        };
        if num.is_empty() {
            return Err(DurationError::NoNumber(after[..unit_len].to_owned()));
        }
        // Any number too long for u64 is far past every range's maximum.
        let n: u64 = num.parse().map_err(|_| out_of_range())?;
        total_ms = u128::from(n)
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(out_of_range)?;
        rest = &after[unit_len..];
    }
    let d = u64::try_from(total_ms)
        .map(Duration::from_millis)
        .map_err(|_| out_of_range())?;
    if d < range.min || d > range.max {
        return Err(out_of_range());
    }
    Ok(d)
}

/// Writes a duration in the same grammar, largest units first (`1h30m`, `500ms`, `0s`).
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Range = Range {
        min: Duration::ZERO,
        max: Duration::MAX,
    };

    #[test]
    fn the_grammar() {
        let ok = |s: &str| parse(s, ANY).unwrap();
        assert_eq!(ok("4h"), Duration::from_secs(14_400));
        assert_eq!(ok("1h30m"), Duration::from_secs(5_400));
        assert_eq!(ok("2d"), Duration::from_secs(172_800));
        assert_eq!(ok("45s"), Duration::from_secs(45));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1m30s250ms"), Duration::from_millis(90_250));
        assert_eq!(parse("4", ANY), Err(DurationError::NoUnit));
        assert_eq!(parse("h", ANY), Err(DurationError::NoNumber("h".into())));
        assert_eq!(parse("4 hours", ANY), Err(DurationError::Unexpected(' ')));
        assert_eq!(parse("1.5h", ANY), Err(DurationError::Unexpected('.')));
        assert_eq!(parse(" ", ANY), Err(DurationError::Empty));
    }

    #[test]
    fn the_pattern_accepts_what_parse_accepts() {
        let re = regex::Regex::new(PATTERN).unwrap();
        for s in ["4h", "1h30m", "500ms", "2d12h", "1m30s250ms"] {
            assert!(re.is_match(s) && parse(s, ANY).is_ok(), "{s}");
        }
        for s in ["4", "h", "4 hours", "1.5h", "", "-5m", "5ms5"] {
            assert!(!re.is_match(s) && parse(s, ANY).is_err(), "{s}");
        }
    }

    #[test]
    fn out_of_range_names_the_range_and_never_overflows() {
        let e = parse("99999999999999999999h", INDEXING_TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`99999999999999999999h` is out of range: allowed from 1s to 30d"
        );
        assert!(parse("18446744073709551615d", ANY).is_err());
        assert!(parse("0s", INDEXING_TIMEOUT).is_err());
        assert!(parse("31d", INDEXING_TIMEOUT).is_err());
        assert_eq!(
            parse("30d", INDEXING_TIMEOUT),
            Ok(Duration::from_secs(2_592_000))
        );
    }

    #[test]
    fn format_round_trips() {
        for s in ["1h30m", "500ms", "2d", "1m30s250ms", "1s"] {
            assert_eq!(format(parse(s, ANY).unwrap()), s);
        }
    }
}
