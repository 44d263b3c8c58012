//! Calendar dates as the canonical model spells them (`YYYY-MM-DD`).

pub use time::Date;
use time::macros::format_description;

/// Parses a plain `YYYY-MM-DD` date, year 0001 to 9999. time's `[year]` alone would also take a
/// sign, more digits or year 0 (`+1976-01-01`, `-0001-01-01`, `0000-01-01`), which no partner's
/// `YYYY-MM-DD` means.
pub fn parse(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || !bytes[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|date| date.year() >= 1)
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Today's date at a fixed UTC offset (partners' dates are local, e.g. Jakarta is +7).
pub fn today(utc_offset_hours: i8) -> String {
    let offset = time::UtcOffset::from_hms(utc_offset_hours, 0, 0).unwrap_or(time::UtcOffset::UTC);
    format(time::OffsetDateTime::now_utc().to_offset(offset).date())
}

/// Whole years from `birth` to `on` (age at last birthday).
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut years = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    years
}

/// `date` plus `months` calendar months, clamped to the month's last day; none when the result
/// is past the last date `Date` holds (9999-12-31).
pub fn add_months(date: Date, months: u32) -> Option<Date> {
    let total = date
        .year()
        .checked_mul(12)?
        .checked_add(date.month() as i32 - 1)?
        .checked_add(i32::try_from(months).ok()?)?;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).ok()?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        let birth = parse("1976-01-01").unwrap();
        assert_eq!(age_on(birth, parse("2024-10-15").unwrap()), 48);
        assert_eq!(age_on(birth, parse("2024-01-01").unwrap()), 48);
        assert_eq!(age_on(birth, parse("2023-12-31").unwrap()), 47);
    }

    #[test]
    fn months_are_added_by_calendar() {
        let d = parse("2024-10-15").unwrap();
        assert_eq!(format(add_months(d, 120).unwrap()), "2034-10-15");
        assert_eq!(
            format(add_months(parse("2024-01-31").unwrap(), 1).unwrap()),
            "2024-02-29"
        );
    }

    #[test]
    fn malformed_dates_are_refused() {
        assert!(parse("01-01-1976").is_none());
        assert!(parse("1976-13-01").is_none());
    }

    #[test]
    fn only_four_plain_digits_make_a_year() {
        for signed in [
            "+1976-01-01",
            "-0001-01-01",
            "0000-01-01",
            "+001976-01-01",
            "1976-1-01",
            " 1976-01-01",
        ] {
            assert!(parse(signed).is_none(), "{signed}");
        }
        assert_eq!(format(parse("0001-01-01").unwrap()), "0001-01-01");
        assert_eq!(format(parse("9999-12-31").unwrap()), "9999-12-31");
    }

    #[test]
    fn months_past_the_last_date_are_none_not_wrapped() {
        let d = parse("2024-10-15").unwrap();
        // u32::MAX wrapped to -1 as i32: one month before the start.
        assert_eq!(add_months(d, u32::MAX), None);
        // 2^31 - 1 overflowed `year * 12 + month + months` (a panic in debug).
        assert_eq!(add_months(d, i32::MAX as u32), None);
        assert_eq!(add_months(parse("9999-12-01").unwrap(), 1), None);
        assert_eq!(
            format(add_months(parse("9999-11-30").unwrap(), 1).unwrap()),
            "9999-12-30"
        );
    }
}
