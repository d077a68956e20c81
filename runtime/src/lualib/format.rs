//! `string.format` support: a spec parser matching lua5.4's checks and
//! C-printf-compatible formatters for each conversion.
//!
//! Typical use by the caller (`str_format`):
//! ```text
//! for piece in Pieces::new(fmt) {
//!     match piece {
//!         Err(msg) => raise(msg),                 // plain error (no "bad argument" prefix)
//!         Ok(Piece::Literal(b)) => out.extend(b),
//!         Ok(Piece::Spec(spec)) => {
//!             arg += 1; if arg > top { argerror(arg, "no value") }
//!             match spec.conv {
//!                 b'c' | b'd' | b'i' | b'u' | b'o' | b'x' | b'X' =>
//!                     format_int(&spec, checkinteger(arg)?, out),
//!                 b'a' | b'A' | b'e' | b'E' | b'f' | b'F' | b'g' | b'G' =>
//!                     format_float(&spec, checknumber(arg)?, out),
//!                 b'p' => format_str(&spec, pointer_text_or_"(null)", out),
//!                 b'q' => int -> format_quoted_int, float -> format_quoted_float,
//!                         string -> format_quoted_str, nil/bool -> tostring,
//!                         else argerror "value has no literal form",
//!                 b's' => format_str(&spec, tolstring(arg), out)
//!                         .map_err(|m| argerror(arg, m)),
//!             }
//!         }
//!     }
//! }
//! ```
//! Error ordering note: lua5.4 checks "no value" for the argument before it
//! validates the spec, and for `%d`-style conversions it converts the
//! argument before validating flags. `Pieces` validates while yielding, so a
//! caller wanting byte-exact error precedence should, on `Err` from the
//! iterator, first check that the argument exists (every `Err` comes from a
//! `%` item that would have consumed one).

/// printf flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub minus: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub zero: bool,
}

/// One conversion specification (`%...c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Conversion character: one of `c d i u o x X a A e E f F g G p q s`.
    pub conv: u8,
    pub flags: Flags,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    /// True when anything appears between `%` and the conversion character.
    pub has_modifiers: bool,
}

impl Spec {
    /// A spec with no flags, width or precision.
    pub fn plain(conv: u8) -> Spec {
        Spec {
            conv,
            flags: Flags::default(),
            width: None,
            precision: None,
            has_modifiers: false,
        }
    }
}

/// A piece of a format string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a [u8]),
    Spec(Spec),
}

/// Iterator over the pieces of a format string, validating each spec the
/// way lua5.4 does. After yielding an `Err` it stops.
pub struct Pieces<'a> {
    fmt: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Pieces<'a> {
    pub fn new(fmt: &'a [u8]) -> Pieces<'a> {
        Pieces {
            fmt,
            pos: 0,
            done: false,
        }
    }
}

const FLAGS_F: &[u8] = b"-+ #0";
const FLAGS_X: &[u8] = b"-#0";
const FLAGS_I: &[u8] = b"-+ 0";
const FLAGS_U: &[u8] = b"-0";
const FLAGS_C: &[u8] = b"-";
/// lstrlib's MAX_FORMAT
const MAX_FORMAT: usize = 32;

fn skip2digits(form: &[u8], mut i: usize) -> usize {
    if form.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        if form.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    i
}

fn show(form: &[u8]) -> String {
    // lua prints the form with %s, i.e. up to the first NUL
    let end = form.iter().position(|&c| c == 0).unwrap_or(form.len());
    String::from_utf8_lossy(form.get(..end).unwrap_or(&[])).into_owned()
}

/// lstrlib's `checkformat`; `form` starts with '%' and ends with the conversion.
fn checkformat(form: &[u8], flags: &[u8], precision: bool) -> Result<(), String> {
    let mut i = 1;
    while form.get(i).is_some_and(|c| flags.contains(c)) {
        i += 1;
    }
    if form.get(i) != Some(&b'0') {
        i = skip2digits(form, i);
        if form.get(i) == Some(&b'.') && precision {
            i += 1;
            i = skip2digits(form, i);
        }
    }
    if !form.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "invalid conversion specification: '{}'",
            show(form)
        ));
    }
    Ok(())
}

fn build_spec(form: &[u8]) -> Spec {
    // form = '%' flags* digits* ['.' digits*] conv ; already validated
    let mut flags = Flags::default();
    let body = form.get(1..form.len().saturating_sub(1)).unwrap_or(&[]);
    let conv = form.last().copied().unwrap_or(0);
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        match c {
            b'-' => flags.minus = true,
            b'+' => flags.plus = true,
            b' ' => flags.space = true,
            b'#' => flags.alt = true,
            b'0' => flags.zero = true,
            _ => break,
        }
        i += 1;
    }
    let mut width = None;
    while let Some(&c) = body.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        width = Some(width.unwrap_or(0usize) * 10 + usize::from(c - b'0'));
        i += 1;
    }
    let mut precision = None;
    if body.get(i) == Some(&b'.') {
        i += 1;
        let mut p = 0usize;
        while let Some(&c) = body.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            p = p * 10 + usize::from(c - b'0');
            i += 1;
        }
        precision = Some(p);
    }
    Spec {
        conv,
        flags,
        width,
        precision,
        has_modifiers: !body.is_empty(),
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Result<Piece<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.fmt.len() {
            return None;
        }
        let rest = self.fmt.get(self.pos..)?;
        if rest.first() != Some(&b'%') {
            let n = rest.iter().position(|&c| c == b'%').unwrap_or(rest.len());
            self.pos += n;
            return Some(Ok(Piece::Literal(rest.get(..n)?)));
        }
        if rest.get(1) == Some(&b'%') {
            self.pos += 2;
            return Some(Ok(Piece::Literal(rest.get(1..2)?)));
        }
        let after = rest.get(1..)?;
        let span = after
            .iter()
            .position(|c| !b"-+ #0123456789.".contains(c))
            .unwrap_or(after.len());
        let len = span + 1;
        if len >= MAX_FORMAT - 10 {
            self.done = true;
            return Some(Err("invalid format (too long)".to_string()));
        }
        let conv = after.get(span).copied().unwrap_or(0);
        let mut form = Vec::with_capacity(len + 1);
        form.push(b'%');
        form.extend_from_slice(after.get(..span)?);
        form.push(conv);
        self.pos += 1 + len;
        let check = match conv {
            b'c' | b'p' => checkformat(&form, FLAGS_C, false),
            b'd' | b'i' => checkformat(&form, FLAGS_I, true),
            b'u' => checkformat(&form, FLAGS_U, true),
            b'o' | b'x' | b'X' => checkformat(&form, FLAGS_X, true),
            // lua5.4.4 has no '%F' (L_FMTFLAGSF covers a A f e E g G only).
            b'a' | b'A' | b'f' | b'e' | b'E' | b'g' | b'G' => checkformat(&form, FLAGS_F, true),
            b'q' => {
                if span > 0 {
                    Err("specifier '%q' cannot have modifiers".to_string())
                } else {
                    Ok(())
                }
            }
            b's' => {
                if span > 0 {
                    checkformat(&form, FLAGS_C, true)
                } else {
                    Ok(())
                }
            }
            _ => Err(format!("invalid conversion '{}' to 'format'", show(&form))),
        };
        match check {
            Ok(()) => Some(Ok(Piece::Spec(build_spec(&form)))),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Parses a whole format string. Errors are plain (not argument) errors.
pub fn parse(fmt: &[u8]) -> Result<Vec<Piece<'_>>, String> {
    Pieces::new(fmt).collect()
}

/// Pads `body` (= prefix ++ digits) to the spec width. `zero_ok` says whether
/// the '0' flag applies; zeros go between `prefix` and `digits`.
fn pad(spec: &Spec, prefix: &[u8], digits: &[u8], zero_ok: bool, out: &mut Vec<u8>) {
    let len = prefix.len() + digits.len();
    let width = spec.width.unwrap_or(0);
    let fill = width.saturating_sub(len);
    if spec.flags.minus {
        out.extend_from_slice(prefix);
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.flags.zero && zero_ok {
        out.extend_from_slice(prefix);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(digits);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(prefix);
        out.extend_from_slice(digits);
    }
}

fn to_radix(mut v: u64, radix: u64, upper: bool) -> Vec<u8> {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut buf = Vec::new();
    loop {
        buf.push(table[(v % radix) as usize & 15]);
        v /= radix;
        if v == 0 {
            break;
        }
    }
    buf.reverse();
    buf
}

/// Formats an integer for `%c %d %i %u %o %x %X` (C semantics on `long long`).
/// Other conversions are formatted as `%d`.
pub fn format_int(spec: &Spec, v: i64, out: &mut Vec<u8>) {
    if spec.conv == b'c' {
        pad(spec, &[], &[v as u8], false, out);
        return;
    }
    let (mut prefix, mut digits): (Vec<u8>, Vec<u8>) = match spec.conv {
        b'u' => (Vec::new(), to_radix(v as u64, 10, false)),
        b'o' => (Vec::new(), to_radix(v as u64, 8, false)),
        b'x' => (Vec::new(), to_radix(v as u64, 16, false)),
        b'X' => (Vec::new(), to_radix(v as u64, 16, true)),
        _ => {
            let sign: &[u8] = if v < 0 {
                b"-"
            } else if spec.flags.plus {
                b"+"
            } else if spec.flags.space {
                b" "
            } else {
                b""
            };
            (sign.to_vec(), to_radix(v.unsigned_abs(), 10, false))
        }
    };
    if let Some(p) = spec.precision {
        if p == 0 && v == 0 {
            digits.clear();
        }
        if digits.len() < p {
            let mut d = vec![b'0'; p - digits.len()];
            d.extend_from_slice(&digits);
            digits = d;
        }
    }
    if spec.flags.alt {
        match spec.conv {
            b'o' if digits.first() != Some(&b'0') => digits.insert(0, b'0'),
            b'x' if v != 0 => prefix.extend_from_slice(b"0x"),
            b'X' if v != 0 => prefix.extend_from_slice(b"0X"),
            _ => {}
        }
    }
    pad(spec, &prefix, &digits, spec.precision.is_none(), out);
}

/// Decomposes `format!("{:.*e}")` output into (mantissa digits with '.', exponent).
fn exp_parts(v: f64, prec: usize) -> (String, i32) {
    let s = format!("{:.*e}", prec, v);
    match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    }
}

fn push_exp(e: i32, upper: bool, out: &mut Vec<u8>) {
    out.push(if upper { b'E' } else { b'e' });
    out.push(if e < 0 { b'-' } else { b'+' });
    let a = e.unsigned_abs();
    if a < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(a.to_string().as_bytes());
}

/// `%e` body for a finite non-negative value.
fn body_e(v: f64, prec: usize, alt: bool, upper: bool) -> Vec<u8> {
    let (m, e) = exp_parts(v, prec);
    let mut b = m.into_bytes();
    if alt && prec == 0 {
        b.push(b'.');
    }
    push_exp(e, upper, &mut b);
    b
}

/// `%f` body for a finite non-negative value.
fn body_f(v: f64, prec: usize, alt: bool) -> Vec<u8> {
    let mut b = format!("{:.*}", prec, v).into_bytes();
    if alt && prec == 0 {
        b.push(b'.');
    }
    b
}

fn strip_trailing_zeros(b: &mut Vec<u8>) {
    if b.contains(&b'.') {
        while b.last() == Some(&b'0') {
            b.pop();
        }
        if b.last() == Some(&b'.') {
            b.pop();
        }
    }
}

/// `%g` body for a finite non-negative value.
fn body_g(v: f64, prec: usize, alt: bool, upper: bool) -> Vec<u8> {
    let p = if prec == 0 { 1 } else { prec };
    let (_, x) = if v == 0.0 {
        (String::new(), 0)
    } else {
        exp_parts(v, p - 1)
    };
    let x = i64::from(x);
    let p = p as i64;
    if p > x && x >= -4 {
        let fprec = (p - 1 - x) as usize;
        let mut b = format!("{:.*}", fprec, v).into_bytes();
        if alt {
            if !b.contains(&b'.') {
                b.push(b'.');
            }
        } else {
            strip_trailing_zeros(&mut b);
        }
        b
    } else {
        let (m, e) = exp_parts(v, (p - 1) as usize);
        let mut b = m.into_bytes();
        if alt {
            if !b.contains(&b'.') {
                b.push(b'.');
            }
        } else {
            strip_trailing_zeros(&mut b);
        }
        push_exp(e, upper, &mut b);
        b
    }
}

/// `%a` body for a finite non-negative value: "0x" h [. hhh] p±d.
fn body_a(v: f64, prec: Option<usize>, alt: bool, upper: bool) -> (Vec<u8>, Vec<u8>) {
    let bits = v.to_bits();
    let bexp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut lead, exp) = if bexp == 0 {
        if frac == 0 {
            (0u64, 0i64)
        } else {
            (0u64, -1022i64)
        }
    } else {
        (1u64, bexp - 1023)
    };
    // 13 hex digits of fraction
    let mut digits: Vec<u8> = (0..13)
        .map(|k| ((frac >> (48 - 4 * k)) & 0xf) as u8)
        .collect();
    match prec {
        None => {
            while digits.last() == Some(&0) {
                digits.pop();
            }
        }
        Some(p) if p < 13 => {
            // round half to even on the remaining digits
            let rest = digits.get(p..).unwrap_or(&[]).to_vec();
            digits.truncate(p);
            let first = rest.first().copied().unwrap_or(0);
            let tail_nonzero = rest.iter().skip(1).any(|&d| d != 0);
            let last_odd = match digits.last() {
                Some(&d) => d & 1 == 1,
                None => lead & 1 == 1,
            };
            if first > 8 || (first == 8 && (tail_nonzero || last_odd)) {
                // increment
                let mut carry = true;
                for d in digits.iter_mut().rev() {
                    if *d == 15 {
                        *d = 0;
                    } else {
                        *d += 1;
                        carry = false;
                        break;
                    }
                }
                if carry {
                    lead += 1;
                }
            }
        }
        Some(p) => digits.resize(p, 0),
    }
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let prefix = if upper {
        b"0X".to_vec()
    } else {
        b"0x".to_vec()
    };
    let mut b = Vec::new();
    b.push(table[(lead & 15) as usize]);
    if !digits.is_empty() || alt {
        b.push(b'.');
    }
    for d in digits {
        b.push(table[usize::from(d & 15)]);
    }
    b.push(if upper { b'P' } else { b'p' });
    b.push(if exp < 0 { b'-' } else { b'+' });
    b.extend_from_slice(exp.unsigned_abs().to_string().as_bytes());
    (prefix, b)
}

/// Formats a float for `%a %A %e %E %f %F %g %G` with C (glibc) semantics.
/// Any other conversion is treated as `%g`.
pub fn format_float(spec: &Spec, v: f64, out: &mut Vec<u8>) {
    let upper = matches!(spec.conv, b'A' | b'E' | b'F' | b'G');
    let mut prefix: Vec<u8> = if v.is_sign_negative() {
        b"-".to_vec()
    } else if spec.flags.plus {
        b"+".to_vec()
    } else if spec.flags.space {
        b" ".to_vec()
    } else {
        Vec::new()
    };
    if !v.is_finite() {
        let txt: &[u8] = match (v.is_nan(), upper) {
            (true, false) => b"nan",
            (true, true) => b"NAN",
            (false, false) => b"inf",
            (false, true) => b"INF",
        };
        pad(spec, &prefix, txt, false, out);
        return;
    }
    let a = v.abs();
    let prec = spec.precision;
    let alt = spec.flags.alt;
    let body = match spec.conv {
        b'e' | b'E' => body_e(a, prec.unwrap_or(6), alt, upper),
        b'f' | b'F' => body_f(a, prec.unwrap_or(6), alt),
        b'a' | b'A' => {
            let (p, b) = body_a(a, prec, alt, upper);
            prefix.extend_from_slice(&p);
            b
        }
        _ => body_g(a, prec.unwrap_or(6), alt, upper),
    };
    pad(spec, &prefix, &body, true, out);
}

/// C `%.{prec}g` (used by `tostring` with prec 14).
pub fn fmt_g(v: f64, prec: usize, alt: bool, upper: bool, out: &mut Vec<u8>) {
    let mut spec = Spec::plain(if upper { b'G' } else { b'g' });
    spec.precision = Some(prec);
    spec.flags.alt = alt;
    format_float(&spec, v, out);
}

/// `%s` (and `%p` given the pointer text). `Err` is an argument error
/// ("string contains zeros"): the caller prefixes "bad argument #N to 'format'".
pub fn format_str(spec: &Spec, s: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if !spec.has_modifiers {
        out.extend_from_slice(s);
        return Ok(());
    }
    if s.contains(&0) {
        return Err("string contains zeros".to_string());
    }
    if spec.precision.is_none() && s.len() >= 100 {
        out.extend_from_slice(s);
        return Ok(());
    }
    let s = match spec.precision {
        Some(p) if p < s.len() => s.get(..p).unwrap_or(s),
        _ => s,
    };
    pad(spec, &[], s, false, out);
    Ok(())
}

/// `%q` of a string.
pub fn format_quoted_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'"' | b'\\' | b'\n' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=31 | 127 => {
                let next_digit = s.get(i + 1).is_some_and(|d| d.is_ascii_digit());
                if next_digit {
                    out.extend_from_slice(format!("\\{c:03}").as_bytes());
                } else {
                    out.extend_from_slice(format!("\\{c}").as_bytes());
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out.push(b'"');
}

/// `%q` of an integer (mininteger is written in hex so it reads back).
pub fn format_quoted_int(i: i64, out: &mut Vec<u8>) {
    if i == i64::MIN {
        out.extend_from_slice(b"0x8000000000000000");
    } else {
        out.extend_from_slice(i.to_string().as_bytes());
    }
}

/// `%q` of a float: hexadecimal (`%a`), `1e9999`, `-1e9999` or `(0/0)`.
pub fn format_quoted_float(f: f64, out: &mut Vec<u8>) {
    if f == f64::INFINITY {
        out.extend_from_slice(b"1e9999");
    } else if f == f64::NEG_INFINITY {
        out.extend_from_slice(b"-1e9999");
    } else if f.is_nan() {
        out.extend_from_slice(b"(0/0)");
    } else {
        format_float(&Spec::plain(b'a'), f, out);
    }
}

#[cfg(test)]
// Test tables hold literal values such as 3.14159 on purpose.
#[allow(clippy::approx_constant)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum A<'a> {
        I(i64),
        F(f64),
        S(&'a [u8]),
    }

    /// Minimal `string.format` driver used by the tests.
    fn sformat(fmt: &[u8], args: &[A]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut it = args.iter();
        for p in Pieces::new(fmt) {
            match p? {
                Piece::Literal(b) => out.extend_from_slice(b),
                Piece::Spec(s) => {
                    let a = *it.next().ok_or("no value")?;
                    match (s.conv, a) {
                        (b'q', A::I(i)) => format_quoted_int(i, &mut out),
                        (b'q', A::F(f)) => format_quoted_float(f, &mut out),
                        (b'q', A::S(x)) => format_quoted_str(x, &mut out),
                        (b's' | b'p', A::S(x)) => format_str(&s, x, &mut out)?,
                        (b'c' | b'd' | b'i' | b'u' | b'o' | b'x' | b'X', A::I(i)) => {
                            format_int(&s, i, &mut out)
                        }
                        (_, A::F(f)) => format_float(&s, f, &mut out),
                        (_, A::I(i)) => format_float(&s, i as f64, &mut out),
                        _ => return Err("bad arg".into()),
                    }
                }
            }
        }
        Ok(out)
    }

    fn check(cases: &[(&str, A, &str)]) {
        for &(f, a, e) in cases {
            let got = match sformat(f.as_bytes(), &[a]) {
                Ok(v) => String::from_utf8_lossy(&v).into_owned(),
                Err(m) => format!("ERR {m}"),
            };
            assert_eq!(got, e, "format {f:?}");
        }
    }

    const NAN_NEG: f64 = f64::from_bits(0xfff8_0000_0000_0000);

    #[test]
    fn spec_errors() {
        use A::*;
        check(&[
            ("%y", I(1), "ERR invalid conversion '%y' to 'format'"),
            (
                "%123d",
                I(1),
                "ERR invalid conversion specification: '%123d'",
            ),
            (
                "%.123d",
                I(1),
                "ERR invalid conversion specification: '%.123d'",
            ),
            ("%#d", I(1), "ERR invalid conversion specification: '%#d'"),
            (
                "%-+ #0-+ #0-+ #0-+ #0-+ 5d",
                I(1),
                "ERR invalid format (too long)",
            ),
            (
                "%-+ #0-+ #0-+ #0-+ #01d",
                I(1),
                "ERR invalid format (too long)",
            ),
            (
                "%-+ #0-+ #0-+ #0-+ #0d",
                I(1),
                "ERR invalid conversion specification: '%-+ #0-+ #0-+ #0-+ #0d'",
            ),
            ("%-+-+-+-+-+-+-+-+-+9d", I(1), "+1       "),
            (
                "%05s",
                S(b"a"),
                "ERR invalid conversion specification: '%05s'",
            ),
            (
                "%.3c",
                I(65),
                "ERR invalid conversion specification: '%.3c'",
            ),
            (
                "%10.3q",
                S(b"a"),
                "ERR specifier '%q' cannot have modifiers",
            ),
            ("%", I(1), "ERR invalid conversion '%' to 'format'"),
            ("%5", I(1), "ERR invalid conversion '%5' to 'format'"),
            ("%5.", I(1), "ERR invalid conversion '%5.' to 'format'"),
            (
                "%0100d",
                I(1),
                "ERR invalid conversion specification: '%0100d'",
            ),
            ("%ll", I(1), "ERR invalid conversion '%l' to 'format'"),
            ("%hd", I(1), "ERR invalid conversion '%h' to 'format'"),
            ("%Lf", I(1), "ERR invalid conversion '%L' to 'format'"),
            ("%n", I(1), "ERR invalid conversion '%n' to 'format'"),
            ("%5\0d", I(1), "ERR invalid conversion '%5' to 'format'"),
            ("%5s", S(b"a\0b"), "ERR string contains zeros"),
        ]);
    }

    #[test]
    fn ints() {
        use A::*;
        check(&[
            ("%u", I(5), "5"),
            ("%i", I(5), "5"),
            ("%0-5d", I(1), "1    "),
            ("%5c", I(65), "    A"),
            ("%-5c|", I(65), "A    |"),
            ("%.5x", I(255), "000ff"),
            ("%#x", I(255), "0xff"),
            ("%x", I(-1), "ffffffffffffffff"),
            ("%o", I(-1), "1777777777777777777777"),
            ("%X", I(3054), "BEE"),
            ("%#x", I(0), "0"),
            ("%#o", I(0), "0"),
            ("%+.0d", I(0), "+"),
            ("%.0d", I(0), ""),
            ("%5.0d|", I(0), "     |"),
            ("%c", I(256 + 65), "A"),
            ("%c", I(-191), "A"),
            ("%c", I(0), "\0"),
            ("%#.3x", I(1), "0x001"),
            ("%#5o", I(8), "  010"),
            ("%#.0o", I(0), "0"),
            ("% d", I(5), " 5"),
            ("%+ d", I(5), "+5"),
            ("%0+5d", I(-5), "-0005"),
            ("%-05d|", I(-5), "-5   |"),
            ("%.3d", I(-5), "-005"),
            ("%+.3d", I(5), "+005"),
            (
                "%099d",
                I(5),
                "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005",
            ),
            (
                "%.99d",
                I(5),
                "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005",
            ),
            ("%d", I(i64::MIN), "-9223372036854775808"),
            ("%08.3d", I(7), "     007"),
            ("%x", I(i64::MIN), "8000000000000000"),
            ("%u", I(-1), "18446744073709551615"),
            ("%-#8X|", I(255), "0XFF    |"),
            ("%#08x", I(255), "0x0000ff"),
        ]);
    }

    #[test]
    fn floats() {
        use A::*;
        let inf = f64::INFINITY;
        check(&[
            ("%5.2f", F(3.14159), " 3.14"),
            ("%e", F(NAN_NEG), "-nan"),
            ("%f", F(-NAN_NEG), "nan"),
            ("%5.1f", F(inf), "  inf"),
            ("%-8e|", F(-inf), "-inf    |"),
            ("%+f", F(inf), "+inf"),
            ("% f", F(NAN_NEG), "-nan"),
            ("%08f", F(inf), "     inf"),
            ("%E", F(inf), "INF"),
            ("%G", F(NAN_NEG), "-NAN"),
            ("%a", F(inf), "inf"),
            ("%a", F(NAN_NEG), "-nan"),
            ("%.2f", F(0.125), "0.12"),
            ("%.0f", F(0.5), "0"),
            ("%.0f", F(1.5), "2"),
            ("%.0f", F(2.5), "2"),
            ("%.1e", F(0.25), "2.5e-01"),
            ("%g", F(100000.0), "100000"),
            ("%g", F(1000000.0), "1e+06"),
            ("%g", F(1e-4), "0.0001"),
            ("%g", F(1e-5), "1e-05"),
            ("%#g", F(1.0), "1.00000"),
            ("%.3g", F(0.0001234), "0.000123"),
            ("%#.3g", F(100.0), "100."),
            ("%.0g", F(123.0), "1e+02"),
            ("%#.0e", F(1.0), "1.e+00"),
            ("%#.0f", F(1.0), "1."),
            ("%.g", F(1.5), "2"),
            ("%.f", F(1.5), "2"),
            ("%.e", F(1.5), "2e+00"),
            ("%010.3f", F(-3.14159), "-00003.142"),
            ("%+.3e", F(12345.6789), "+1.235e+04"),
            ("% 12.4E", F(-0.000123), " -1.2300E-04"),
            ("%#G", F(1e-10), "1.00000E-10"),
            ("%g", F(1e15), "1e+15"),
            ("%g", F(123456.0), "123456"),
            ("%g", F(1234567.0), "1.23457e+06"),
            ("%.10g", F(0.1), "0.1"),
            ("%.17g", F(0.1), "0.10000000000000001"),
            ("%g", F(0.0), "0"),
            ("%g", F(-0.0), "-0"),
            ("%e", F(0.0), "0.000000e+00"),
            ("%.0e", F(0.0), "0e+00"),
            ("%#.0g", F(0.0), "0."),
            ("%10.3f|", F(1e10), "10000000000.000|"),
            ("%g", F(9.9999999e-5), "0.0001"),
            ("%g", F(999999.5), "1e+06"),
            ("%g", F(9999995.0), "1e+07"),
            ("%.3g", F(99.95), "100"),
            ("%.2g", F(0.0995), "0.1"),
            ("%#.3g", F(1e-5), "1.00e-05"),
            ("%.14g", F(100.0), "100"),
            ("%.14g", F(1e14), "1e+14"),
            ("%.14g", F(123456789012345.0), "1.2345678901234e+14"),
            ("%5.1f|", F(1.25), "  1.2|"),
            ("%-5.1f|", F(1.35), "1.4  |"),
            ("%05.1f", F(-1.45), "-01.4"),
            ("%.1f", F(0.05), "0.1"),
            ("%.1f", F(0.25), "0.2"),
            ("%.2e", F(1.125), "1.12e+00"),
            ("%e", F(1e300), "1.000000e+300"),
            ("%e", F(5e-324), "4.940656e-324"),
            ("%f", F(-0.0), "-0.000000"),
            ("%d", F(3.0), "3"),
            (
                "%.99f",
                F(0.1),
                "0.100000000000000005551115123125782702118158340454101562500000000000000000000000000000000000000000000",
            ),
            (
                "%.99g",
                F(0.1),
                "0.1000000000000000055511151231257827021181583404541015625",
            ),
            (
                "%99.99e",
                F(1.0),
                "1.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e+00",
            ),
        ]);
        let big = sformat(b"%99.99f", &[F(1e308)]).unwrap();
        assert_eq!(big.len(), 409);
        assert!(big.starts_with(b"100000000000000001097906362944045541740492309677311846336810682903157585404911491537163328978494688899061249669721172515611590283743140088328307009198146046031271664502933027185697489699588559043338384466165001178426897626212945177628091195786707458122783970171784415105291802893207873272974885715430223118336.0000"));
    }

    #[test]
    fn hex_floats() {
        use A::*;
        check(&[
            ("%a", F(1.0), "0x1p+0"),
            ("%A", F(0.1), "0X1.999999999999AP-4"),
            ("%.3a", F(1.0 / 3.0), "0x1.555p-2"),
            ("%a", F(0.0), "0x0p+0"),
            ("%a", F(-0.0), "-0x0p+0"),
            ("%a", F(5e-324), "0x0.0000000000001p-1022"),
            ("%.0a", F(1.5), "0x2p+0"),
            ("%.0a", F(1.9), "0x2p+0"),
            ("%.1a", F(1.96875), "0x2.0p+0"),
            ("%.0a", F(2.5), "0x1p+1"),
            ("%#a", F(1.0), "0x1.p+0"),
            ("%+a", F(1.0), "+0x1p+0"),
            ("%10a|", F(1.0), "    0x1p+0|"),
            ("%-12a|", F(1.0), "0x1p+0      |"),
            ("%012a", F(1.0), "0x0000001p+0"),
            ("%.20a", F(1.0), "0x1.00000000000000000000p+0"),
            ("%.13a", F(1e300), "0x1.7e43c8800759cp+996"),
            ("%.2a", F(5e-324), "0x0.00p-1022"),
            ("%.0a", F(5e-324), "0x0p-1022"),
            ("%.1a", F(2.2946074165855514e-308), "0x1.0p-1022"),
            ("%a", F(2.2250738585072014e-308 * 0.75), "0x0.cp-1022"),
            ("%a", F(1.0000000000000002), "0x1.0000000000001p+0"),
            ("%.1a", F(1.15625), "0x1.2p+0"),
            ("%.1a", F(1.21875), "0x1.4p+0"),
            ("%.1a", F(1.1564941406250), "0x1.3p+0"),
            ("%#.0a", F(1.0), "0x1.p+0"),
            ("%10.2a|", F(-1.0), "-0x1.00p+0|"),
            ("%08.2a", F(1.5), "0x1.80p+0"),
            ("% a", F(2.0), " 0x1p+1"),
            ("%A", F(255.5), "0X1.FFP+7"),
            ("%.20a", F(0.1), "0x1.999999999999a0000000p-4"),
        ]);
    }

    #[test]
    fn strings_and_quotes() {
        use A::*;
        check(&[
            ("%5.1s|", S(b"abc"), "    a|"),
            ("%.0s|", S(b"abc"), "|"),
            ("%s", S(b"a\0b"), "a\0b"),
            ("%5.3s|", S(b"abcdef"), "  abc|"),
            ("%-5s|", S(b"ab"), "ab   |"),
            ("%10p|", S(b"(null)"), "    (null)|"),
            ("%q", F(f64::INFINITY), "1e9999"),
            ("%q", F(f64::NEG_INFINITY), "-1e9999"),
            ("%q", F(NAN_NEG), "(0/0)"),
            ("%q", F(1.0), "0x1p+0"),
            ("%q", F(0.1), "0x1.999999999999ap-4"),
            ("%q", I(i64::MIN), "0x8000000000000000"),
            ("%q", I(255), "255"),
            ("%q", F(-0.0), "-0x0p+0"),
            ("%q", F(9007199254740992.0), "0x1p+53"),
            ("%q", F(1e300), "0x1.7e43c8800759cp+996"),
            ("%q", F(-1.5), "-0x1.8p+0"),
            ("%q", F(5e-324), "0x0.0000000000001p-1022"),
            (
                "%q",
                S(b"a\n\0b\x001\r\"\\\x7f"),
                "\"a\\\n\\0b\\0001\\13\\\"\\\\\\127\"",
            ),
            (
                "%q",
                S(b"\x001\0a\r\n\t\x01\x019"),
                "\"\\0001\\0a\\13\\\n\\9\\1\\0019\"",
            ),
        ]);
        // byte-exact check for the non-UTF-8 case
        let v = sformat(b"%q", &[S(b"\x80\xff")]).unwrap();
        assert_eq!(v, b"\"\x80\xff\"");
        let long = vec![b'x'; 150];
        let mut out = Vec::new();
        let spec = match parse(b"%5s").unwrap()[0] {
            Piece::Spec(s) => s,
            _ => unreachable!(),
        };
        format_str(&spec, &long, &mut out).unwrap();
        assert_eq!(out.len(), 150);
    }

    #[test]
    fn literals() {
        let p = parse(b"a%%b%dc").unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(p[1], Piece::Literal(b"%"));
        let out = sformat(b"x=%d, y=%s%%", &[A::I(1), A::S(b"z")]).unwrap();
        assert_eq!(out, b"x=1, y=z%");
    }

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
        let mut r = Rng(99);
        for _ in 0..20000 {
            let f = r.bytes(b"%-+ #0123456789.cdiuoxXaAeEfFgGqsp", 12);
            let v = f64::from_bits(r.next());
            let i = r.next() as i64;
            if let Ok(pieces) = parse(&f) {
                for p in pieces {
                    if let Piece::Spec(s) = p {
                        let mut out = Vec::new();
                        format_int(&s, i, &mut out);
                        format_float(&s, v, &mut out);
                        let _ = format_str(&s, &f, &mut out);
                    }
                }
            }
        }
    }
}
