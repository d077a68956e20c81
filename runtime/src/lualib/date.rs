//! Calendar arithmetic and `strftime` for `os.date`/`os.time`, in UTC and
//! the C locale, without libc. Dates are proleptic Gregorian; years are
//! kept as i64 so no input overflows.

/// A broken-down time (`struct tm`, but with a full year and 1-based
/// month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    /// 1..=12
    pub month: i64,
    /// 1..=31
    pub day: i64,
    pub hour: i64,
    pub min: i64,
    pub sec: i64,
    /// 0..=6, Sunday is 0.
    pub wday: i64,
    /// 0..=365, January 1st is 0.
    pub yday: i64,
}

/// Days since 1970-01-01 of a (year, month 1..=12, day) date; day may be
/// any integer (it just adds).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's algorithm, on i64 (inputs are bounded by callers).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `gmtime`: None when the year does not fit C's `int tm_year`, as glibc
/// refuses then.
pub fn gmtime(t: i64) -> Option<Tm> {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if year - 1900 > i64::from(i32::MAX) || year - 1900 < i64::from(i32::MIN) {
        return None;
    }
    let yday = days - days_from_civil(year, 1, 1);
    Some(Tm {
        year,
        month,
        day,
        hour: secs / 3600,
        min: secs / 60 % 60,
        sec: secs % 60,
        wday: (days + 4).rem_euclid(7),
        yday,
    })
}

/// `timegm` (mktime in UTC): fields may be out of range and are
/// normalized. None when the result does not fit.
pub fn timegm(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64) -> Option<i64> {
    // Inputs come from C ints, so this arithmetic cannot overflow i64.
    let m0 = month - 1;
    let y = year + m0.div_euclid(12);
    let m = m0.rem_euclid(12) + 1;
    let days = days_from_civil(y, m, 1) + day - 1;
    let t = days * 86_400 + hour * 3600 + min * 60 + sec;
    gmtime(t).map(|_| t)
}

/// The conversions lua5.4 accepts (LUA_STRFTIMEOPTIONS for C99): single
/// letters, then the `E` and `O` modified ones.
const SINGLE: &[u8] = b"aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
const E_MOD: &[u8] = b"cCxXyY";
const O_MOD: &[u8] = b"deHImMSuUVwWy";

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// ISO 8601 week-based year and week number.
fn iso_week(tm: &Tm) -> (i64, i64) {
    // Monday-based weekday 0..=6.
    let wd = (tm.wday + 6) % 7;
    let mut year = tm.year;
    let mut week = (tm.yday - wd + 10) / 7;
    if week < 1 {
        year -= 1;
        let ylen = if is_leap(year) { 366 } else { 365 };
        let yday = tm.yday + ylen;
        week = (yday - wd + 10) / 7;
    } else {
        let ylen = if is_leap(year) { 366 } else { 365 };
        if tm.yday - wd + 3 >= ylen {
            // The week with Jan 4th of next year.
            year += 1;
            week = 1;
        }
    }
    (year, week)
}

/// `strftime` in the C locale. `utc` selects the `%Z` name glibc prints
/// for gmtime ("GMT") versus local time on a UTC machine ("UTC").
/// Errors are lua5.4's argument message for an invalid conversion.
pub fn strftime(fmt: &[u8], tm: &Tm, utc: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = fmt.get(i) {
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        // Find the conversion (with an optional E/O modifier).
        let (conv, len) = match fmt.get(i).copied() {
            Some(m @ (b'E' | b'O')) => {
                let set = if m == b'E' { E_MOD } else { O_MOD };
                match fmt.get(i + 1) {
                    Some(&c2) if set.contains(&c2) => (c2, 2),
                    _ => return Err(invalid(fmt.get(i..))),
                }
            }
            Some(c1) if SINGLE.contains(&c1) => (c1, 1),
            _ => return Err(invalid(fmt.get(i..))),
        };
        i += len;
        conv_one(conv, tm, utc, &mut out);
    }
    Ok(out)
}

/// lua5.4 shows the whole rest of the format (up to a NUL).
fn invalid(rest: Option<&[u8]>) -> String {
    let rest = rest.unwrap_or(&[]);
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    format!(
        "invalid conversion specifier '%{}'",
        String::from_utf8_lossy(rest)
    )
}

fn conv_one(conv: u8, tm: &Tm, utc: bool, out: &mut Vec<u8>) {
    let mut put = |s: String| out.extend_from_slice(s.as_bytes());
    let wday = DAYS[tm.wday.rem_euclid(7) as usize];
    let month = MONTHS[(tm.month - 1).rem_euclid(12) as usize];
    let h12 = match tm.hour % 12 {
        0 => 12,
        h => h,
    };
    match conv {
        b'a' => put(wday[..3].to_string()),
        b'A' => put(wday.to_string()),
        b'b' | b'h' => put(month[..3].to_string()),
        b'B' => put(month.to_string()),
        b'c' => put(format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            &wday[..3],
            &month[..3],
            tm.day,
            tm.hour,
            tm.min,
            tm.sec,
            tm.year
        )),
        b'C' => put(format!("{:02}", tm.year.div_euclid(100))),
        b'd' => put(format!("{:02}", tm.day)),
        b'D' | b'x' => put(format!(
            "{:02}/{:02}/{:02}",
            tm.month,
            tm.day,
            tm.year.rem_euclid(100)
        )),
        b'e' => put(format!("{:2}", tm.day)),
        b'F' => put(format!("{}-{:02}-{:02}", tm.year, tm.month, tm.day)),
        b'g' => put(format!("{:02}", iso_week(tm).0.rem_euclid(100))),
        b'G' => put(format!("{}", iso_week(tm).0)),
        b'H' => put(format!("{:02}", tm.hour)),
        b'I' => put(format!("{h12:02}")),
        b'j' => put(format!("{:03}", tm.yday + 1)),
        b'm' => put(format!("{:02}", tm.month)),
        b'M' => put(format!("{:02}", tm.min)),
        b'n' => put("\n".into()),
        b'p' => put(if tm.hour < 12 { "AM" } else { "PM" }.into()),
        b'r' => put(format!(
            "{h12:02}:{:02}:{:02} {}",
            tm.min,
            tm.sec,
            if tm.hour < 12 { "AM" } else { "PM" }
        )),
        b'R' => put(format!("{:02}:{:02}", tm.hour, tm.min)),
        b'S' => put(format!("{:02}", tm.sec)),
        b't' => put("\t".into()),
        b'T' | b'X' => put(format!("{:02}:{:02}:{:02}", tm.hour, tm.min, tm.sec)),
        b'u' => put(format!("{}", if tm.wday == 0 { 7 } else { tm.wday })),
        b'U' => put(format!("{:02}", (tm.yday + 7 - tm.wday) / 7)),
        b'V' => put(format!("{:02}", iso_week(tm).1)),
        b'w' => put(format!("{}", tm.wday)),
        b'W' => put(format!("{:02}", (tm.yday + 7 - (tm.wday + 6) % 7) / 7)),
        b'y' => put(format!("{:02}", tm.year.rem_euclid(100))),
        b'Y' => put(format!("{}", tm.year)),
        b'z' => put("+0000".into()),
        b'Z' => put(if utc { "GMT" } else { "UTC" }.into()),
        _ => put("%".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch() {
        let tm = gmtime(0).unwrap();
        assert_eq!(
            (tm.year, tm.month, tm.day, tm.wday, tm.yday),
            (1970, 1, 1, 4, 0)
        );
        assert_eq!(timegm(2021, 13, 1, 0, 0, 0), Some(1_640_995_200));
        let s = strftime(b"%c|%G-W%V", &gmtime(1_000_000_000).unwrap(), true).unwrap();
        assert_eq!(s, b"Sun Sep  9 01:46:40 2001|2001-W36");
    }
}
