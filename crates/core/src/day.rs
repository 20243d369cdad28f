//! Coarse arrival dates: the only time Sealdrop records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How coarsely the arrival of a submission is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// The UTC day.
    #[default]
    Day,
    /// The Monday that starts the UTC week.
    Week,
    /// The first day of the UTC month.
    Month,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            other => Err(format!("`{other}` is not one of day, week, month")),
        }
    }
}

/// A civil date in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// The date that contains `days` days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn to_days(self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Parse `YYYY-MM-DD`, rejecting anything that is not a real date.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let date = Date {
            year: digits(0..4)?,
            month: digits(5..7)? as u32,
            day: digits(8..10)? as u32,
        };
        (Date::from_days(date.to_days()) == date).then_some(date)
    }

    /// Midnight UTC at the start of this date.
    pub fn start(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs((self.to_days().max(0) as u64) * 86_400)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The coarse arrival date for a submission arriving at `now`.
pub fn arrival_date(now: SystemTime, granularity: Granularity) -> Date {
    let days = now
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0);
    let date = Date::from_days(days);
    match granularity {
        Granularity::Day => date,
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday = 0.
        Granularity::Week => Date::from_days(days - (days + 3).rem_euclid(7)),
        Granularity::Month => Date { day: 1, ..date },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_known_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_784).to_string(), "2026-11-27");
        for d in [-1000, 0, 59, 60, 11_016, 20_000, 100_000] {
            assert_eq!(Date::from_days(d).to_days(), d);
        }
    }

    #[test]
    fn granularity_rounds_down() {
        let t = Date::parse("2026-11-27").unwrap().start() + Duration::from_secs(13 * 3600);
        assert_eq!(arrival_date(t, Granularity::Day).to_string(), "2026-11-27");
        assert_eq!(arrival_date(t, Granularity::Week).to_string(), "2026-11-23");
        assert_eq!(
            arrival_date(t, Granularity::Month).to_string(),
            "2026-11-01"
        );
    }

    #[test]
    fn parse_rejects_non_dates() {
        assert!(Date::parse("2026-02-30").is_none());
        assert!(Date::parse("2026-2-03").is_none());
        assert!(Date::parse("+026-02-03").is_none());
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
    }
}
