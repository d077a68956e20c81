//! Lua 5.4 number formatting, parsing and arithmetic helpers.
//!
//! Everything here is pure and total: no function panics on any input.

/// A Lua number: either an integer or a float subtype.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Appends the decimal representation of an integer (`tostring(i)`).
pub fn fmt_int(i: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(i.to_string().as_bytes());
}

/// Appends `tostring(f)` for a float exactly as lua5.4 does: `%.14g`, then
/// `.0` appended when the result looks like an integer. NaN prints as `nan`
/// or `-nan` according to its sign bit (as glibc on x86-64 does; note that
/// `0/0` computed at run time on x86-64 has the sign bit set, so Lua prints
/// `-nan` for it).
pub fn fmt_float(f: f64, out: &mut Vec<u8>) {
    let start = out.len();
    super::format::fmt_g(f, 14, false, false, out);
    let looks_int = out
        .get(start..)
        .map(|s| s.iter().all(|&c| c == b'-' || c.is_ascii_digit()))
        .unwrap_or(false);
    if looks_int {
        out.extend_from_slice(b".0");
    }
}

/// C `isspace` in the C locale.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && s.get(a).is_some_and(|&c| is_space(c)) {
        a += 1;
    }
    while b > a && s.get(b - 1).is_some_and(|&c| is_space(c)) {
        b -= 1;
    }
    s.get(a..b).unwrap_or(&[])
}

fn hex_val(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// Lua's `l_str2int`: decimal or hexadecimal integer; `None` if the string
/// is not an integer numeral or a decimal numeral overflows.
fn str_to_int(s: &[u8]) -> Option<i64> {
    let s = trim(s);
    let (neg, rest) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut a: u64 = 0;
    if rest.len() >= 2
        && rest.first() == Some(&b'0')
        && matches!(rest.get(1), Some(b'x') | Some(b'X'))
    {
        let digits = rest.get(2..)?;
        if digits.is_empty() {
            return None;
        }
        for &c in digits {
            let d = hex_val(c)?;
            a = a.wrapping_mul(16).wrapping_add(u64::from(d));
        }
    } else {
        const MAXBY10: u64 = (i64::MAX / 10) as u64;
        const MAXLASTD: u64 = (i64::MAX % 10) as u64;
        for &c in rest {
            if !c.is_ascii_digit() {
                return None;
            }
            let d = u64::from(c - b'0');
            if a >= MAXBY10 && (a > MAXBY10 || d > MAXLASTD + u64::from(neg)) {
                return None; // overflow: not accepted as an integer
            }
            a = a * 10 + d;
        }
    }
    let v = if neg { 0u64.wrapping_sub(a) } else { a };
    Some(v as i64)
}

/// Builds `mant * 2^exp2` correctly rounded (round-half-even), where
/// `sticky` says whether nonzero bits below `mant` were dropped.
fn make_float(mant: u64, sticky: bool, exp2: i64) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    let lz = i64::from(mant.leading_zeros());
    let m = mant << lz; // top bit set
    let e = exp2.saturating_sub(lz); // value = m * 2^e, m in [2^63, 2^64)
    let top = e.saturating_add(63); // exponent of the leading bit
    if top > 1023 {
        return f64::INFINITY;
    }
    // number of significant bits we can keep
    let keep: i64 = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep < 0 {
        return 0.0;
    }
    let drop = 64 - keep; // in 11..=64
    let (kept, round_bit, rest_nonzero) = if drop >= 64 {
        (0u64, m >> 63 != 0, (m << 1) != 0 || sticky)
    } else {
        let kept = m >> drop;
        let rb = (m >> (drop - 1)) & 1 != 0;
        let mask = (1u64 << (drop - 1)) - 1;
        (kept, rb, (m & mask) != 0 || sticky)
    };
    let mut k = kept;
    if round_bit && (rest_nonzero || (k & 1) == 1) {
        k += 1;
    }
    // value = k * 2^(e + drop); k < 2^54 so the conversion is exact
    ldexp(k as f64, e.saturating_add(drop))
}

/// `x * 2^e`, exact when the result is representable.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    let p = f64::from_bits(((1023 + 960) as u64) << 52); // 2^960
    let n = f64::from_bits(((1023 - 960) as u64) << 52); // 2^-960
    while e > 960 {
        x *= p;
        e -= 960;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -960 {
        x *= n;
        e += 960;
        if x == 0.0 {
            return x;
        }
    }
    // now -960 <= e <= 960
    x * f64::from_bits(((1023 + e) as u64) << 52)
}

/// Parses a C99 hexadecimal float (after trimming and sign removal):
/// `0x` hexdigits [ `.` hexdigits ] [ `p` [sign] digits ].
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let body = s.get(2..)?;
    let mut mant: u64 = 0;
    let mut sticky = false;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut seen_dot = false;
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        if c == b'.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
        } else if let Some(d) = hex_val(c) {
            any = true;
            if mant >> 60 == 0 {
                mant = (mant << 4) | u64::from(d);
                if seen_dot {
                    exp = exp.saturating_sub(4);
                }
            } else {
                if d != 0 {
                    sticky = true;
                }
                if !seen_dot {
                    exp = exp.saturating_add(4);
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if let Some(&c) = body.get(i) {
        if c != b'p' && c != b'P' {
            return None;
        }
        i += 1;
        let mut eneg = false;
        match body.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                eneg = true;
                i += 1
            }
            _ => {}
        }
        let digits = body.get(i..)?;
        if digits.is_empty() {
            return None;
        }
        let mut e: i64 = 0;
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            e = e.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        }
        exp = if eneg {
            exp.saturating_sub(e)
        } else {
            exp.saturating_add(e)
        };
    }
    Some(make_float(mant, sticky, exp))
}

/// Checks the `strtod` decimal grammar: digits [`.` digits] [e [sign] digits]
/// with at least one mantissa digit.
fn is_decimal_float(s: &[u8]) -> bool {
    let mut i = 0;
    let mut digits = 0;
    while s.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e') | Some(b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+') | Some(b'-')) {
            i += 1;
        }
        let st = i;
        while s.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if i == st {
            return false;
        }
    }
    i == s.len()
}

/// Lua's `l_str2d`.
fn str_to_float(s: &[u8]) -> Option<f64> {
    if s.iter().any(|&c| c == b'n' || c == b'N') {
        return None;
    }
    let s = trim(s);
    let (neg, rest) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let v = if rest.len() >= 2
        && rest.first() == Some(&b'0')
        && matches!(rest.get(1), Some(b'x') | Some(b'X'))
    {
        parse_hex_float(rest)?
    } else {
        if !is_decimal_float(rest) {
            return None;
        }
        let txt = std::str::from_utf8(rest).ok()?;
        txt.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Converts a string to a number following `lua_stringtonumber`
/// (the rules of `tonumber(s)` without a base).
pub fn str_to_number(s: &[u8]) -> Option<Number> {
    if s.contains(&0) {
        return None;
    }
    if let Some(i) = str_to_int(s) {
        return Some(Number::Int(i));
    }
    str_to_float(s).map(Number::Float)
}

/// `tonumber(s, base)` for `base` in 2..=36. Returns `None` for a bad
/// numeral or a base out of range (the caller reports "base out of range").
pub fn str_to_int_base(s: &[u8], base: u32) -> Option<i64> {
    if !(2..=36).contains(&base) {
        return None;
    }
    let s = trim(s);
    let (neg, rest) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in rest {
        let d = (c as char).to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.wrapping_mul(u64::from(base)).wrapping_add(u64::from(d));
    }
    Some(if neg { 0u64.wrapping_sub(n) } else { n } as i64)
}

const TWO63: f64 = 9_223_372_036_854_775_808.0;

fn float_in_int_range(f: f64) -> Option<i64> {
    // f must already be integral
    if (-TWO63..TWO63).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// Lua's "float has an exact integer representation" (`math.tointeger`).
pub fn float_to_int_exact(f: f64) -> Option<i64> {
    if f.floor() == f {
        float_in_int_range(f)
    } else {
        None
    }
}

/// `floor(f)` as an integer if it fits.
pub fn float_floor_to_int(f: f64) -> Option<i64> {
    float_in_int_range(f.floor())
}

/// `ceil(f)` as an integer if it fits.
pub fn float_ceil_to_int(f: f64) -> Option<i64> {
    float_in_int_range(f.ceil())
}

/// Integer floor division `a // b`; `None` when `b == 0`
/// (the caller raises "attempt to perform 'n//0'").
pub fn int_floor_div(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    if b == -1 {
        return Some(a.wrapping_neg());
    }
    let q = a / b;
    if (a ^ b) < 0 && a % b != 0 {
        Some(q - 1)
    } else {
        Some(q)
    }
}

/// Integer modulo `a % b` with the sign of the divisor; `None` when `b == 0`
/// (the caller raises "attempt to perform 'n%%0'").
pub fn int_mod(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    if b == -1 {
        return Some(0);
    }
    let m = a % b;
    if m != 0 && (m ^ b) < 0 {
        Some(m.wrapping_add(b))
    } else {
        Some(m)
    }
}

/// Float modulo as Lua computes it (`fmod` then adjust toward the divisor's sign).
pub fn float_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if (m > 0.0 && b < 0.0) || (m < 0.0 && b > 0.0) {
        m + b
    } else {
        m
    }
}

/// Float floor division `floor(a / b)`.
pub fn float_floor_div(a: f64, b: f64) -> f64 {
    (a / b).floor()
}

/// Lua's logical shift left (`a << n`); negative `n` shifts right.
pub fn shift_left(a: i64, n: i64) -> i64 {
    if n <= -64 || n >= 64 {
        0
    } else if n < 0 {
        ((a as u64) >> (-n)) as i64
    } else {
        ((a as u64) << n) as i64
    }
}

/// Lua's logical shift right (`a >> n`).
pub fn shift_right(a: i64, n: i64) -> i64 {
    if n == i64::MIN {
        return 0;
    }
    shift_left(a, -n)
}

fn int_fits_float(i: i64) -> bool {
    const MAXINTFITSF: i64 = 1 << 53;
    (-MAXINTFITSF..=MAXINTFITSF).contains(&i)
}

/// `i < f`
pub fn lt_int_float(i: i64, f: f64) -> bool {
    if int_fits_float(i) {
        (i as f64) < f
    } else {
        match float_ceil_to_int(f) {
            Some(fi) => i < fi,
            None => f > 0.0,
        }
    }
}

/// `i <= f`
pub fn le_int_float(i: i64, f: f64) -> bool {
    if int_fits_float(i) {
        (i as f64) <= f
    } else {
        match float_floor_to_int(f) {
            Some(fi) => i <= fi,
            None => f > 0.0,
        }
    }
}

/// `f < i`
pub fn lt_float_int(f: f64, i: i64) -> bool {
    if int_fits_float(i) {
        f < (i as f64)
    } else {
        match float_floor_to_int(f) {
            Some(fi) => fi < i,
            None => f < 0.0,
        }
    }
}

/// `f <= i`
pub fn le_float_int(f: f64, i: i64) -> bool {
    if int_fits_float(i) {
        f <= (i as f64)
    } else {
        match float_ceil_to_int(f) {
            Some(fi) => fi <= i,
            None => f < 0.0,
        }
    }
}

/// `i == f` (exact mathematical equality).
pub fn eq_int_float(i: i64, f: f64) -> bool {
    float_to_int_exact(f) == Some(i)
}

#[cfg(test)]
// Test tables hold literal values such as 3.14159 on purpose.
#[allow(clippy::approx_constant)]
mod tests {
    use super::*;

    fn ff(f: f64) -> String {
        let mut v = Vec::new();
        fmt_float(f, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn float_formatting() {
        let nan = f64::NAN;
        let cases: &[(f64, &str)] = &[
            (-nan.abs(), "-nan"),
            (nan.abs(), "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e100, "1e+100"),
            (9.223_372_036_854_776e18, "9.2233720368548e+18"),
            (1e15, "1e+15"),
            (1e16, "1e+16"),
            (0.1, "0.1"),
            (123456789012345678.0, "1.2345678901235e+17"),
            (100.0, "100.0"),
            (-3.0, "-3.0"),
            (1e14, "1e+14"),
            (99999999999999.0, "99999999999999.0"),
            (3.14159265358979, "3.1415926535898"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (2.5, "2.5"),
            (1.0 / 3.0, "0.33333333333333"),
            (5e-324, "4.9406564584125e-324"),
            (1.7976931348623157e308, "1.7976931348623e+308"),
            (123456.789, "123456.789"),
            (-1.5e-10, "-1.5e-10"),
        ];
        for &(f, e) in cases {
            assert_eq!(ff(f), e, "fmt_float({f:?})");
        }
        let mut v = Vec::new();
        fmt_int(i64::MIN, &mut v);
        assert_eq!(v, b"-9223372036854775808");
    }

    #[test]
    fn string_to_number_table() {
        use Number::{Float as F, Int as I};
        let cases: &[(&[u8], Option<Number>)] = &[
            (b"0x", None),
            (b"0x1p", None),
            (b"1e", None),
            (b"1e+", None),
            (b".", None),
            (b".5", Some(F(0.5))),
            (b"5.", Some(F(5.0))),
            (b"0x.8", Some(F(0.5))),
            (b"0xA.8p-1", Some(F(5.25))),
            (b"0x1p4", Some(F(16.0))),
            (b" 10 ", Some(I(10))),
            (b"\t0x10\n", Some(I(16))),
            (b"-0x10", Some(I(-16))),
            (b"- 1", None),
            (b"--1", None),
            (b"+1", Some(I(1))),
            (b"+-1", None),
            (b"1 2", None),
            (b"", None),
            (b" ", None),
            (b"inf", None),
            (b"nan", None),
            (b"1e400", Some(F(f64::INFINITY))),
            (b"-1e400", Some(F(f64::NEG_INFINITY))),
            (b"0x1P-1074", Some(F(5e-324))),
            (b"0x1p-1075", Some(F(0.0))),
            (b"0x1.8p-1074", Some(F(1e-323))),
            (b"9223372036854775807", Some(I(i64::MAX))),
            (b"9223372036854775808", Some(F(9.223_372_036_854_776e18))),
            (b"-9223372036854775808", Some(I(i64::MIN))),
            (b"-9223372036854775809", Some(F(-9.223_372_036_854_776e18))),
            (b"0xffffffffffffffff", Some(I(-1))),
            (b"0x10000000000000000", Some(I(0))),
            (b"0x7fffffffffffffff1", Some(I(-15))),
            (b"1e5", Some(F(100000.0))),
            (b"1E5", Some(F(100000.0))),
            (b"0x1e5", Some(I(485))),
            (b"0X1E", Some(I(30))),
            (b"0x1.", Some(F(1.0))),
            (b"0x.p1", None),
            (b"1..2", None),
            (b"1.2.3", None),
            (b"0b101", None),
            (b"00012", Some(I(12))),
            (b"1f", None),
            (b"0x1g", None),
            (b"1e5.5", None),
            (b"  .5e-3  ", Some(F(0.0005))),
            (b"5e", None),
            (b"0xp1", None),
            (b"1\0", None),
            (b"1\x0b", Some(I(1))),
            (b"\x0c1", Some(I(1))),
            (
                b"123456789012345678901234567890",
                Some(F(1.2345678901234568e29)),
            ),
            (b"0.1", Some(F(0.1))),
            (b"-0", Some(I(0))),
            (b"-0.0", Some(F(-0.0))),
            (b"0x-1", None),
            (b"0x+1", None),
            (b"1e+5", Some(F(100000.0))),
            (b"1e-5", Some(F(1e-5))),
            (b"1.e5", Some(F(100000.0))),
            (b".e5", None),
            (b"0x1P+4", Some(F(16.0))),
            (b"0x1p4.5", None),
            (b"4e-320", Some(F(4e-320))),
            (b"2.5e-324", Some(F(5e-324))),
            (b"1.7976931348623157e308", Some(F(f64::MAX))),
            (b"1.7976931348623159e308", Some(F(f64::INFINITY))),
            (b"0x1.fffffffffffff8p1023", Some(F(f64::INFINITY))),
            (b"0x1.fffffffffffff7ffp1023", Some(F(f64::MAX))),
            (b"0x123456789abcdef0123p0", Some(F(5.373003642731685e21))),
            (
                b"0x.0000000000000000000000001p0",
                Some(F(7.888609052210118e-31)),
            ),
            (b"0x10000000000000000000000000p-100", Some(F(1.0))),
            (b"0x1.08p-1022", Some(F(2.2946074165855514e-308))),
            (b"infinity", None),
            (b"0x", None),
            (b"-", None),
            (b"+", None),
            (b"1e5 ", Some(F(100000.0))),
            (b"\xff", None),
        ];
        for &(s, e) in cases {
            let got = str_to_number(s);
            match (got, e) {
                (Some(F(a)), Some(F(b))) => assert!(
                    a.to_bits() == b.to_bits(),
                    "{:?}: {a:e} vs {b:e}",
                    String::from_utf8_lossy(s)
                ),
                _ => assert_eq!(got, e, "{:?}", String::from_utf8_lossy(s)),
            }
        }
        // long inputs
        let mut s = b"1".to_vec();
        s.extend(std::iter::repeat_n(b'0', 400));
        s.extend_from_slice(b"e-400");
        assert_eq!(str_to_number(&s), Some(F(1.0)));
        let mut s = b"0x".to_vec();
        s.extend(std::iter::repeat_n(b'0', 100));
        s.push(b'1');
        assert_eq!(str_to_number(&s), Some(I(1)));
        let mut s = b"0x1".to_vec();
        s.extend(std::iter::repeat_n(b'0', 100));
        s.extend_from_slice(b"p-400");
        assert_eq!(str_to_number(&s), Some(F(1.0)));
    }

    #[test]
    fn base_conversion() {
        let cases: &[(&[u8], u32, Option<i64>)] = &[
            (b"ff", 16, Some(255)),
            (b"FF", 16, Some(255)),
            (b"  -101  ", 2, Some(-5)),
            (b"+7", 8, Some(7)),
            (b"8", 8, None),
            (b"zz", 36, Some(1295)),
            (b"", 10, None),
            (b"-", 10, None),
            (b"1 1", 10, None),
            (b"1.0", 10, None),
            (b"ffffffffffffffff", 16, Some(-1)),
            (b"10000000000000000", 16, Some(0)),
            (b"99999999999999999999", 10, Some(7766279631452241919)),
            (b"1\0", 10, None),
            (b"10", 1, None),
            (b"10", 37, None),
            (b"0x10", 16, None),
        ];
        for &(s, b, e) in cases {
            assert_eq!(
                str_to_int_base(s, b),
                e,
                "{:?} {b}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(int_floor_div(7, 2), Some(3));
        assert_eq!(int_floor_div(-7, 2), Some(-4));
        assert_eq!(int_floor_div(7, -2), Some(-4));
        assert_eq!(int_floor_div(i64::MIN, -1), Some(i64::MIN));
        assert_eq!(int_floor_div(1, 0), None);
        assert_eq!(int_mod(-7, 2), Some(1));
        assert_eq!(int_mod(7, -2), Some(-1));
        assert_eq!(int_mod(i64::MIN, -1), Some(0));
        assert_eq!(int_mod(i64::MIN, i64::MAX), Some(9223372036854775806));
        assert_eq!(int_mod(5, 0), None);
        assert_eq!(float_mod(5.5, -2.0), -0.5);
        assert_eq!(float_mod(-5.5, 2.0), 0.5);
        assert_eq!(float_mod(1.0, f64::INFINITY), 1.0);
        assert_eq!(float_mod(-1.0, f64::INFINITY), f64::INFINITY);
        assert_eq!(float_mod(1.0, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(float_mod(f64::INFINITY, 2.0).is_nan());
        assert!(float_mod(1.0, 0.0).is_nan());
        assert_eq!(float_floor_div(7.0, -2.0), -4.0);
        assert_eq!(float_floor_div(1.0, 0.0), f64::INFINITY);
        assert_eq!(shift_left(1, 63), i64::MIN);
        assert_eq!(shift_left(1, 64), 0);
        assert_eq!(shift_left(-1, -1), i64::MAX);
        assert_eq!(shift_left(-1, -64), 0);
        assert_eq!(shift_left(5, i64::MIN), 0);
        assert_eq!(shift_right(-1, 60), 15);
        assert_eq!(shift_right(1, i64::MIN), 0);
        assert_eq!(float_to_int_exact(3.0), Some(3));
        assert_eq!(float_to_int_exact(3.5), None);
        assert_eq!(float_to_int_exact(TWO63), None);
        assert_eq!(float_to_int_exact(-TWO63), Some(i64::MIN));
        assert_eq!(float_to_int_exact(f64::NAN), None);
        assert_eq!(float_to_int_exact(-0.0), Some(0));
        assert_eq!(float_floor_to_int(-1.5), Some(-2));
        assert_eq!(float_ceil_to_int(-1.5), Some(-1));
        assert_eq!(float_ceil_to_int(1e300), None);
    }

    #[test]
    fn mixed_comparisons() {
        let big = i64::MAX;
        assert!(lt_int_float(big, TWO63));
        assert!(!le_int_float(big, 9.223372036854775e18));
        assert!(!eq_int_float(big, TWO63));
        assert!(eq_int_float(i64::MIN, -TWO63));
        assert!(!lt_int_float(1, f64::NAN));
        assert!(!le_int_float(big, f64::NAN));
        assert!(!lt_float_int(f64::NAN, big));
        assert!(!le_float_int(f64::NAN, 1));
        assert!(lt_float_int(f64::NEG_INFINITY, i64::MIN));
        assert!(le_float_int(-TWO63, i64::MIN));
        assert!(!lt_float_int(-TWO63, i64::MIN));
        assert!(lt_int_float(i64::MAX - 1, 9.223372036854775e18 + 2048.0));
        assert!(le_int_float((1 << 53) + 1, 9007199254740994.0));
        assert!(!le_int_float((1 << 53) + 3, 9007199254740994.0));
        assert!(lt_float_int(9007199254740992.5, (1 << 53) + 1));
        assert!(le_float_int(1.5, 2));
        assert!(!le_float_int(2.5, 2));
        assert!(lt_int_float(i64::MIN, -9.2e18));
        assert!(eq_int_float(3, 3.0));
        assert!(!eq_int_float(3, 3.1));
    }

    /// Small deterministic PRNG for the fuzz loops.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
            let n = (self.next() % (max_len as u64 + 1)) as usize;
            (0..n)
                .map(|_| {
                    if self.next().is_multiple_of(8) {
                        self.next() as u8
                    } else {
                        alphabet[(self.next() % alphabet.len() as u64) as usize]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn fuzz_never_panics() {
        let mut r = Rng(0x1234_5678);
        for _ in 0..20000 {
            let s = r.bytes(b"0123456789abcdefxXpPeE.+- \t", 30);
            let _ = str_to_number(&s);
            let b = (r.next() % 40) as u32;
            let _ = str_to_int_base(&s, b);
            let f = f64::from_bits(r.next());
            let i = r.next() as i64;
            let mut out = Vec::new();
            fmt_float(f, &mut out);
            let _ = (
                lt_int_float(i, f),
                le_int_float(i, f),
                lt_float_int(f, i),
                le_float_int(f, i),
                eq_int_float(i, f),
                float_to_int_exact(f),
                int_mod(i, r.next() as i64),
                int_floor_div(i, r.next() as i64),
                shift_left(i, r.next() as i64),
            );
            // round-trip: %.17g of a finite float parses back exactly
            if f.is_finite() {
                let txt = format!("{f:e}");
                assert_eq!(
                    str_to_number(txt.as_bytes()),
                    Some(Number::Float(f)),
                    "{txt}"
                );
            }
        }
    }
}
