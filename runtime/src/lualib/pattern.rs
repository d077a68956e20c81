//! Lua 5.4 pattern matching on bytes (a port of the semantics of
//! lstrlib.c's matcher). All errors are plain errors with lua5.4's text.
//!
//! Recursion follows lstrlib exactly (one Rust frame per recursive `match`
//! call there) and is capped at `MAXCCALLS` (200) frames, after which the
//! error "pattern too complex" is returned; repetitions (`*`, `+`, `-`) loop
//! rather than recurse per subject character.
//!
//! How the library functions map onto this module:
//! * `string.find(s, p, init, plain)`: if `plain || !has_specials(p)` use
//!   [`find_plain`]; otherwise [`find`]. Results: `m.start + 1`, `m.end`,
//!   then [`captures`]`(s, &m, false)`.
//! * `string.match(s, p, init)`: [`find`], then [`captures`]`(s, &m, true)`.
//! * `string.gmatch(s, p, init)`: keep `src` (start offset) and
//!   `lastmatch: Option<usize>` (initially `None`); each call does
//!   [`gmatch_next`]`(s, p, src, lastmatch)`; on `Some(m)` set
//!   `src = m.end; lastmatch = Some(m.end)` and return
//!   [`captures`]`(s, &m, true)`. In gmatch `^` is not an anchor (5.4).
//! * `string.gsub(s, p, repl, n)`: [`gsub`] with a callback; for a string
//!   `repl` the callback calls [`expand_replacement`]; for a table/function
//!   it uses [`get_capture`]`(s, m, 0)` as key/argument (or
//!   [`captures`]`(s, m, true)` for functions) and appends either the
//!   returned value or, for `false`/`nil`, the whole match
//!   (`&s[m.start..m.end]`).

/// Maximum number of captures (LUA_MAXCAPTURES).
pub const MAXCAPTURES: usize = 32;
/// Maximum recursion depth of the matcher (MAXCCALLS in lstrlib).
pub const MAXCCALLS: u32 = 200;

const L_ESC: u8 = b'%';
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// A capture recorded by a successful match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Substring capture, byte offsets into the subject (end exclusive).
    Slice { start: usize, end: usize },
    /// Position capture `()`: 1-based position as Lua returns it.
    Position(usize),
    /// A capture that was opened but never closed (e.g. pattern `"(a"`).
    /// Retrieving it yields the error "unfinished capture".
    Unfinished,
}

/// A successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Byte offset of the match start.
    pub start: usize,
    /// Byte offset just past the match end.
    pub end: usize,
    pub captures: Vec<Capture>,
}

/// The value of one capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureValue<'a> {
    Str(&'a [u8]),
    Pos(usize),
}

const CAP_UNFINISHED: i64 = -1;
const CAP_POSITION: i64 = -2;

struct MatchState<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    capture: [(usize, i64); MAXCAPTURES],
    depth: u32,
}

type MResult = Result<Option<usize>, String>;

fn class_matches(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0, // deprecated but still accepted by 5.4
        _ => return cl == c,
    };
    if cl.is_ascii_uppercase() {
        !res
    } else {
        res
    }
}

impl<'a> MatchState<'a> {
    fn new(src: &'a [u8], pat: &'a [u8]) -> Self {
        MatchState {
            src,
            pat,
            level: 0,
            capture: [(0, 0); MAXCAPTURES],
            depth: MAXCCALLS,
        }
    }

    fn reprep(&mut self) {
        self.level = 0;
        self.depth = MAXCCALLS;
    }

    /// Pattern byte at `i`, or 0 past the end (like C's terminating NUL).
    fn p(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// Subject byte at `i`, or 0 past the end.
    fn s(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    fn class_end(&self, mut p: usize) -> Result<usize, String> {
        let plen = self.pat.len();
        let c = self.p(p);
        p += 1;
        if c == L_ESC {
            if p >= plen {
                return Err("malformed pattern (ends with '%')".to_string());
            }
            return Ok(p + 1);
        }
        if c == b'[' {
            if self.p(p) == b'^' {
                p += 1;
            }
            loop {
                // look for a ']'
                if p >= plen {
                    return Err("malformed pattern (missing ']')".to_string());
                }
                let cc = self.p(p);
                p += 1;
                if cc == L_ESC && p < plen {
                    p += 1; // skip escapes (e.g. '%]')
                }
                if self.p(p) == b']' {
                    break;
                }
            }
            return Ok(p + 1);
        }
        Ok(p)
    }

    /// `p` at '[', `ec` at the closing ']'.
    fn match_bracket_class(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut sig = true;
        if self.p(p + 1) == b'^' {
            sig = false;
            p += 1;
        }
        loop {
            p += 1;
            if p >= ec {
                break;
            }
            let pc = self.p(p);
            if pc == L_ESC {
                p += 1;
                if class_matches(c, self.p(p)) {
                    return sig;
                }
            } else if self.p(p + 1) == b'-' && p + 2 < ec {
                p += 2;
                if pc <= c && c <= self.p(p) {
                    return sig;
                }
            } else if pc == c {
                return sig;
            }
        }
        !sig
    }

    fn single_match(&self, s: usize, p: usize, ep: usize) -> bool {
        if s >= self.src.len() {
            return false;
        }
        let c = self.s(s);
        match self.p(p) {
            b'.' => true,
            L_ESC => class_matches(c, self.p(p + 1)),
            b'[' => self.match_bracket_class(c, p, ep.saturating_sub(1)),
            pc => pc == c,
        }
    }

    fn match_balance(&self, s: usize, p: usize) -> MResult {
        if p + 1 >= self.pat.len() {
            return Err("malformed pattern (missing arguments to '%b')".to_string());
        }
        if self.s(s) != self.p(p) || s >= self.src.len() {
            return Ok(None);
        }
        let b = self.p(p);
        let e = self.p(p + 1);
        let mut cont = 1u32;
        let mut s = s + 1;
        while s < self.src.len() {
            let c = self.s(s);
            if c == e {
                cont -= 1;
                if cont == 0 {
                    return Ok(Some(s + 1));
                }
            } else if c == b {
                cont = cont.saturating_add(1);
            }
            s += 1;
        }
        Ok(None)
    }

    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> MResult {
        let mut i = 0usize;
        while self.single_match(s + i, p, ep) {
            i += 1;
        }
        loop {
            if let Some(r) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(r));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> MResult {
        loop {
            if let Some(r) = self.do_match(s, ep + 1)? {
                return Ok(Some(r));
            }
            if self.single_match(s, p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: i64) -> MResult {
        let level = self.level;
        if level >= MAXCAPTURES {
            return Err("too many captures".to_string());
        }
        if let Some(slot) = self.capture.get_mut(level) {
            *slot = (s, what);
        }
        self.level = level + 1;
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.level -= 1;
        }
        Ok(res)
    }

    fn capture_to_close(&self) -> Result<usize, String> {
        let mut level = self.level;
        while level > 0 {
            level -= 1;
            if self.capture.get(level).map(|c| c.1) == Some(CAP_UNFINISHED) {
                return Ok(level);
            }
        }
        Err("invalid pattern capture".to_string())
    }

    fn end_capture(&mut self, s: usize, p: usize) -> MResult {
        let l = self.capture_to_close()?;
        if let Some(slot) = self.capture.get_mut(l) {
            slot.1 = s as i64 - slot.0 as i64;
        }
        let res = self.do_match(s, p)?;
        if res.is_none() {
            if let Some(slot) = self.capture.get_mut(l) {
                slot.1 = CAP_UNFINISHED;
            }
        }
        Ok(res)
    }

    fn check_capture(&self, l: u8) -> Result<usize, String> {
        let l = i32::from(l) - i32::from(b'1');
        if l < 0
            || l as usize >= self.level
            || self.capture.get(l as usize).map(|c| c.1) == Some(CAP_UNFINISHED)
        {
            return Err(format!("invalid capture index %{}", l + 1));
        }
        Ok(l as usize)
    }

    fn match_capture(&self, s: usize, l: u8) -> MResult {
        let l = self.check_capture(l)?;
        let (init, len) = self.capture.get(l).copied().unwrap_or((0, CAP_POSITION));
        if len < 0 {
            // position captures never match (size_t)-2 bytes
            return Ok(None);
        }
        let len = len as usize;
        let rest = self.src.len().saturating_sub(s);
        if rest >= len && self.src.get(init..init + len) == self.src.get(s..s + len) {
            Ok(Some(s + len))
        } else {
            Ok(None)
        }
    }

    fn do_match(&mut self, s: usize, p: usize) -> MResult {
        if self.depth == 0 {
            return Err("pattern too complex".to_string());
        }
        self.depth -= 1;
        let r = self.match_body(s, p);
        self.depth += 1;
        r
    }

    fn match_body(&mut self, mut s: usize, mut p: usize) -> MResult {
        let plen = self.pat.len();
        loop {
            if p >= plen {
                return Ok(Some(s));
            }
            let mut dflt = false;
            match self.p(p) {
                b'(' => {
                    return if self.p(p + 1) == b')' {
                        self.start_capture(s, p + 2, CAP_POSITION)
                    } else {
                        self.start_capture(s, p + 1, CAP_UNFINISHED)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == plen => {
                    return Ok(if s == self.src.len() { Some(s) } else { None });
                }
                L_ESC => match self.p(p + 1) {
                    b'b' => match self.match_balance(s, p + 2)? {
                        Some(ns) => {
                            s = ns;
                            p += 4;
                        }
                        None => return Ok(None),
                    },
                    b'f' => {
                        p += 2;
                        if self.p(p) != b'[' {
                            return Err("missing '[' after '%f' in pattern".to_string());
                        }
                        let ep = self.class_end(p)?;
                        let previous = if s == 0 { 0 } else { self.s(s - 1) };
                        let current = self.s(s);
                        if !self.match_bracket_class(previous, p, ep - 1)
                            && self.match_bracket_class(current, p, ep - 1)
                        {
                            p = ep;
                        } else {
                            return Ok(None);
                        }
                    }
                    d @ b'0'..=b'9' => match self.match_capture(s, d)? {
                        Some(ns) => {
                            s = ns;
                            p += 2;
                        }
                        None => return Ok(None),
                    },
                    _ => dflt = true,
                },
                _ => dflt = true,
            }
            if !dflt {
                continue;
            }
            let ep = self.class_end(p)?;
            let epc = self.p(ep);
            if !self.single_match(s, p, ep) {
                if epc == b'*' || epc == b'?' || epc == b'-' {
                    p = ep + 1;
                    continue;
                }
                return Ok(None);
            }
            match epc {
                b'?' => {
                    if let Some(r) = self.do_match(s + 1, ep + 1)? {
                        return Ok(Some(r));
                    }
                    p = ep + 1;
                }
                b'+' => return self.max_expand(s + 1, p, ep),
                b'*' => return self.max_expand(s, p, ep),
                b'-' => return self.min_expand(s, p, ep),
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    fn make_match(&self, start: usize, end: usize) -> Match {
        let captures = self
            .capture
            .iter()
            .take(self.level)
            .map(|&(init, len)| match len {
                CAP_UNFINISHED => Capture::Unfinished,
                CAP_POSITION => Capture::Position(init + 1),
                l => Capture::Slice {
                    start: init,
                    end: init + l.max(0) as usize,
                },
            })
            .collect();
        Match {
            start,
            end,
            captures,
        }
    }
}

/// `string.find`/`string.match` search: honours a leading `^` anchor and
/// tries every start position from `init` (0-based) up to and including
/// `subject.len()`. Returns `Ok(None)` when `init > subject.len()`.
pub fn find(subject: &[u8], pattern: &[u8], init: usize) -> Result<Option<Match>, String> {
    if init > subject.len() {
        return Ok(None);
    }
    let (anchor, pat) = match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    };
    let mut ms = MatchState::new(subject, pat);
    let mut s1 = init;
    loop {
        ms.reprep();
        if let Some(e) = ms.do_match(s1, 0)? {
            return Ok(Some(ms.make_match(s1, e)));
        }
        s1 += 1;
        if anchor || s1 > subject.len() {
            return Ok(None);
        }
    }
}

/// Matches `pattern` exactly at `pos` (no `^` processing: a leading `^` is
/// a literal character here, as in gmatch). Returns `Ok(None)` if `pos`
/// is past the end or the pattern does not match there.
pub fn match_at(subject: &[u8], pattern: &[u8], pos: usize) -> Result<Option<Match>, String> {
    if pos > subject.len() {
        return Ok(None);
    }
    let mut ms = MatchState::new(subject, pattern);
    Ok(ms.do_match(pos, 0)?.map(|e| ms.make_match(pos, e)))
}

/// One step of `string.gmatch`: tries positions `src..=subject.len()` and
/// returns the first match whose end differs from `lastmatch` (5.4 rule:
/// no empty match right at the end of the previous match). The caller then
/// sets `src = m.end` and `lastmatch = Some(m.end)`.
pub fn gmatch_next(
    subject: &[u8],
    pattern: &[u8],
    src: usize,
    lastmatch: Option<usize>,
) -> Result<Option<Match>, String> {
    let mut ms = MatchState::new(subject, pattern);
    let mut s = src;
    while s <= subject.len() {
        ms.reprep();
        if let Some(e) = ms.do_match(s, 0)? {
            if Some(e) != lastmatch {
                return Ok(Some(ms.make_match(s, e)));
            }
        }
        s += 1;
    }
    Ok(None)
}

/// `string.gsub` driver. `max_n` is the maximum number of substitutions
/// (Lua's default is `subject.len() + 1`; non-positive means none).
/// `repl` is called for every match and must append the replacement text
/// to the buffer (for a false/nil result of a table/function replacement,
/// append the original match `&subject[m.start..m.end]`).
/// Returns the new string and the number of matches.
pub fn gsub<E: From<String>>(
    subject: &[u8],
    pattern: &[u8],
    max_n: i64,
    mut repl: impl FnMut(&Match, &mut Vec<u8>) -> Result<(), E>,
) -> Result<(Vec<u8>, usize), E> {
    let (anchor, pat) = match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    };
    let mut ms = MatchState::new(subject, pat);
    let mut out = Vec::with_capacity(subject.len());
    let mut src = 0usize;
    let mut lastmatch: Option<usize> = None;
    let mut n: usize = 0;
    while (n as i64) < max_n {
        ms.reprep();
        let e = ms.do_match(src, 0)?;
        match e {
            Some(e) if Some(e) != lastmatch => {
                n += 1;
                let m = ms.make_match(src, e);
                repl(&m, &mut out)?;
                src = e;
                lastmatch = Some(e);
            }
            _ => {
                if let Some(&c) = subject.get(src) {
                    out.push(c);
                    src += 1;
                } else {
                    break;
                }
            }
        }
        if anchor {
            break;
        }
    }
    if let Some(rest) = subject.get(src..) {
        out.extend_from_slice(rest);
    }
    Ok((out, n))
}

/// Capture `i` (0-based: `i == 0` is the first capture, or the whole match
/// when the pattern has no captures), as lstrlib's `get_onecapture`.
pub fn get_capture<'a>(subject: &'a [u8], m: &Match, i: usize) -> Result<CaptureValue<'a>, String> {
    match m.captures.get(i) {
        None => {
            if i != 0 {
                return Err(format!("invalid capture index %{}", i.saturating_add(1)));
            }
            Ok(CaptureValue::Str(
                subject.get(m.start..m.end).unwrap_or(&[]),
            ))
        }
        Some(Capture::Unfinished) => Err("unfinished capture".to_string()),
        Some(&Capture::Position(p)) => Ok(CaptureValue::Pos(p)),
        Some(&Capture::Slice { start, end }) => {
            Ok(CaptureValue::Str(subject.get(start..end).unwrap_or(&[])))
        }
    }
}

/// All captures of a match (lstrlib's `push_captures`). With
/// `whole_if_none` (string.match, gmatch, gsub functions) a pattern without
/// captures yields the whole match; without it (string.find) yields nothing.
pub fn captures<'a>(
    subject: &'a [u8],
    m: &Match,
    whole_if_none: bool,
) -> Result<Vec<CaptureValue<'a>>, String> {
    let n = if m.captures.is_empty() && whole_if_none {
        1
    } else {
        m.captures.len()
    };
    (0..n).map(|i| get_capture(subject, m, i)).collect()
}

/// Expands a gsub replacement string (`%0`-`%9`, `%%`) for match `m`.
pub fn expand_replacement(
    repl: &[u8],
    subject: &[u8],
    m: &Match,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut i = 0;
    while let Some(&c) = repl.get(i) {
        i += 1;
        if c != L_ESC {
            out.push(c);
            continue;
        }
        let d = repl.get(i).copied().unwrap_or(0);
        i += 1;
        if d == L_ESC {
            out.push(L_ESC);
        } else if d == b'0' {
            out.extend_from_slice(subject.get(m.start..m.end).unwrap_or(&[]));
        } else if d.is_ascii_digit() {
            match get_capture(subject, m, usize::from(d - b'1'))? {
                CaptureValue::Str(s) => out.extend_from_slice(s),
                CaptureValue::Pos(p) => out.extend_from_slice(p.to_string().as_bytes()),
            }
        } else {
            return Err("invalid use of '%' in replacement string".to_string());
        }
    }
    Ok(())
}

/// Plain substring search from byte offset `init`; returns the 0-based
/// start of the first occurrence. An empty needle matches at `init`.
pub fn find_plain(subject: &[u8], needle: &[u8], init: usize) -> Option<usize> {
    let hay = subject.get(init..)?;
    if needle.is_empty() {
        return Some(init);
    }
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + init)
}

/// True if the pattern contains any of `^$*+?.([%-` (lstrlib's
/// `nospecials` negated): when false, `string.find` does a plain search.
pub fn has_specials(pattern: &[u8]) -> bool {
    pattern.iter().any(|c| SPECIALS.contains(c))
}

#[cfg(test)]
// Test tables hold literal values such as 3.14159 on purpose.
#[allow(clippy::approx_constant)]
mod tests {
    use super::*;

    fn show_vals(s: &[u8], vals: &[CaptureValue]) -> String {
        let _ = s;
        vals.iter()
            .map(|v| match v {
                CaptureValue::Str(b) => String::from_utf8_lossy(b).into_owned(),
                CaptureValue::Pos(p) => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// string.find(s, p, init) rendered as "start end caps" / "nil" / "ERR msg"
    fn lfind(s: &str, p: &str, init: usize) -> String {
        let (s, p) = (s.as_bytes(), p.as_bytes());
        if !has_specials(p) {
            return match find_plain(s, p, init) {
                Some(i) => format!("{} {}", i + 1, i + p.len()),
                None => "nil".into(),
            };
        }
        match find(s, p, init) {
            Err(e) => format!("ERR {e}"),
            Ok(None) => "nil".into(),
            Ok(Some(m)) => match captures(s, &m, false) {
                Err(e) => format!("ERR {e}"),
                Ok(c) if c.is_empty() => format!("{} {}", m.start + 1, m.end),
                Ok(c) => format!("{} {} {}", m.start + 1, m.end, show_vals(s, &c)),
            },
        }
    }

    fn lmatch(s: &str, p: &str) -> String {
        let (s, p) = (s.as_bytes(), p.as_bytes());
        match find(s, p, 0) {
            Err(e) => format!("ERR {e}"),
            Ok(None) => "nil".into(),
            Ok(Some(m)) => match captures(s, &m, true) {
                Err(e) => format!("ERR {e}"),
                Ok(c) => show_vals(s, &c),
            },
        }
    }

    fn lgsub(s: &str, p: &str, r: &str) -> String {
        let (sb, pb, rb) = (s.as_bytes(), p.as_bytes(), r.as_bytes());
        match gsub(sb, pb, sb.len() as i64 + 1, |m, out| {
            expand_replacement(rb, sb, m, out)
        }) {
            Err(e) => format!("ERR {e}"),
            Ok((v, n)) => format!("{} {}", String::from_utf8_lossy(&v), n),
        }
    }

    fn lgmatch(s: &str, p: &str) -> String {
        let (s, p) = (s.as_bytes(), p.as_bytes());
        let mut src = 0;
        let mut last = None;
        let mut items = Vec::new();
        loop {
            match gmatch_next(s, p, src, last) {
                Err(e) => return format!("ERR {e}"),
                Ok(None) => break,
                Ok(Some(m)) => {
                    src = m.end;
                    last = Some(m.end);
                    match captures(s, &m, true) {
                        Ok(c) => items.push(show_vals(s, &c)),
                        Err(e) => return format!("ERR {e}"),
                    }
                }
            }
        }
        items.join("|")
    }

    #[test]
    fn find_table() {
        // (subject, pattern, init0, expected) checked against lua5.4
        let cases: &[(&str, &str, usize, &str)] = &[
            ("abc", "%", 0, "ERR malformed pattern (ends with '%')"),
            ("abc", "[a", 0, "ERR malformed pattern (missing ']')"),
            ("abc", "[]", 0, "ERR malformed pattern (missing ']')"),
            ("abc", "%f", 0, "ERR missing '[' after '%f' in pattern"),
            ("abc", "%fa", 0, "ERR missing '[' after '%f' in pattern"),
            ("abc", "%1", 0, "ERR invalid capture index %1"),
            ("abc", "%0", 0, "ERR invalid capture index %0"),
            ("abc", "(a)%2", 0, "ERR invalid capture index %2"),
            ("abc", "(a%1)", 0, "ERR invalid capture index %1"),
            ("abc", "a)", 0, "nil"),
            ("abc", "(a", 0, "ERR unfinished capture"),
            (
                "abc",
                "%b",
                0,
                "ERR malformed pattern (missing arguments to '%b')",
            ),
            (
                "abc",
                "%ba",
                0,
                "ERR malformed pattern (missing arguments to '%b')",
            ),
            ("hello world", "o", 0, "5 5"),
            ("hello world", "o", 5, "8 8"),
            ("hello world", "l+", 0, "3 4"),
            ("hello world", "(h)(e)", 0, "1 2 h,e"),
            ("hello", "()ll()", 0, "3 4 3,5"),
            ("hello", "", 0, "1 0"),
            ("hello", "", 5, "6 5"),
            ("hello", "$", 0, "6 5"),
            ("hello", "^h", 0, "1 1"),
            ("hello", "^e", 0, "nil"),
            ("hello", "^e", 1, "2 2"),
            ("a.b", ".", 0, "1 1"),
            ("a.b", "%.", 0, "2 2"),
            ("THE (quick) fox", "%((%a+)%)", 0, "5 11 quick"),
            ("x = [[a]] y", "%[(=*)%[", 0, "5 6 "),
            ("f(a(b)c)d", "%b()", 0, "2 8"),
            ("THE (quick) fox", "%f[%a]%a+", 4, "6 10"),
            ("aaab", "a-b", 0, "1 4"),
            ("aaab", "a*", 0, "1 3"),
            ("aaab", "a?a?b", 0, "2 4"),
            ("[]]", "[]]", 0, "2 2"),
            ("a]", "[^]]", 0, "1 1"),
            ("a-z", "[a%-z]+", 0, "1 3"),
            ("0x1F", "%x+$", 0, "3 4"),
            ("abcabc", "(abc)%1", 0, "1 6 abc"),
            ("a$b", "a$b", 0, "1 3"),
            ("a$", "$$", 0, "2 2"),
            ("  x", "^%s*()", 0, "1 2 3"),
            ("hello", "l", 10, "nil"),
            ("key=val", "(%w+)=(%w+)", 0, "1 7 key,val"),
            ("abc", "[%a-z]", 0, "1 1"),
            ("-", "[%a-]", 0, "1 1"),
            ("b", "[a-]", 0, "nil"),
            ("\0x", "%z", 0, "1 1"),
            ("abc", "[b-a]", 0, "nil"),
            ("x^", "[x^]+", 0, "1 2"),
            ("a+b", "a+b", 0, "nil"),
            ("a+b", "a%+b", 0, "1 3"),
            ("aXb", "%u", 0, "2 2"),
            ("aXb", "%U+", 0, "1 1"),
            ("12ab", "%D+", 0, "3 4"),
            ("hello", "[^%s]+", 0, "1 5"),
            ("abc", "((a)(b))", 0, "1 2 ab,a,b"),
            ("abc", "(()a)", 0, "1 1 a,1"),
            ("abc", "()%1", 0, "nil"),
        ];
        for &(s, p, i, e) in cases {
            assert_eq!(lfind(s, p, i), e, "find({s:?}, {p:?}, {})", i + 1);
        }
    }

    #[test]
    fn match_and_limits() {
        let a300 = "a".repeat(300);
        let a100 = "a".repeat(100);
        let cases: Vec<(String, String, String)> = vec![
            (
                a300.clone(),
                "(a)".repeat(33),
                "ERR too many captures".into(),
            ),
            (
                a300.clone(),
                "a?".repeat(300),
                "ERR pattern too complex".into(),
            ),
            (a100.clone(), "a?".repeat(190), a100.clone()),
            (
                "x".into(),
                format!("{}x{}", "(".repeat(200), ")".repeat(200)),
                "ERR too many captures".into(),
            ),
            (
                "x".into(),
                format!("{}x{}", "(".repeat(32), ")".repeat(32)),
                vec!["x"; 32].join(","),
            ),
            ("abc".into(), "()a()".into(), "1,2".into()),
            (
                "abc".into(),
                "a)".into(),
                "ERR invalid pattern capture".into(),
            ),
            ("hello world".into(), "%f[%w]%w+$".into(), "world".into()),
            ("  trim  ".into(), "^%s*(.-)%s*$".into(), "trim".into()),
            (
                "2024-01-05".into(),
                "(%d+)-(%d+)-(%d+)".into(),
                "2024,01,05".into(),
            ),
            ("abc".into(), "^(a)".into(), "a".into()),
            ("abc".into(), "b$".into(), "nil".into()),
            (
                "THE (quick) fox".into(),
                "%f[%a]%a+%f[%A]".into(),
                "THE".into(),
            ),
            ("aaa".into(), "(a-)$".into(), "aaa".into()),
            ("one two".into(), "%a+ (%a+)".into(), "two".into()),
            ("ab12".into(), "%w%w%d%d".into(), "ab12".into()),
            (
                "x".into(),
                "[".into(),
                "ERR malformed pattern (missing ']')".into(),
            ),
            (
                "x".into(),
                "[^".into(),
                "ERR malformed pattern (missing ']')".into(),
            ),
            (
                "x".into(),
                "[%".into(),
                "ERR malformed pattern (missing ']')".into(),
            ),
            (
                "x".into(),
                "x%".into(),
                "ERR malformed pattern (ends with '%')".into(),
            ),
        ];
        for (s, p, e) in cases {
            assert_eq!(lmatch(&s, &p), e, "match({s:?}, {p:?})");
        }
        // long subject: repetition must not recurse per character
        let long = "a".repeat(200_000);
        assert_eq!(lmatch(&long, ".-$").len(), 200_000);
        assert_eq!(lmatch(&"a".repeat(2000), "a*b"), "nil");
        assert_eq!(lmatch(&long, "(a+)").len(), 200_000);
    }

    #[test]
    fn gsub_table() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("abc", "(a", "x", "xbc 1"),
            ("abc", "(a", "%1", "ERR unfinished capture"),
            (
                "abc",
                "a",
                "%",
                "ERR invalid use of '%' in replacement string",
            ),
            (
                "abc",
                "a",
                "%x",
                "ERR invalid use of '%' in replacement string",
            ),
            ("abc", "a", "%2", "ERR invalid capture index %2"),
            ("abc", "(a)", "%2", "ERR invalid capture index %2"),
            ("abc", "a", "%1", "abc 1"),
            ("abc", "()", "%1", "1a2b3c4 4"),
            ("hello world", "%w*", "<%0>", "<hello> <world> 2"),
            ("abc", "^a", "x", "xbc 1"),
            ("aaa", "^a", "x", "xaa 1"),
            ("hello world", "o", "0", "hell0 w0rld 2"),
            ("hello", "", "-", "-h-e-l-l-o- 6"),
            ("abc", "%w", "%0%0", "aabbcc 3"),
            ("hello world", "(%w+)", "%1 %1", "hello hello world world 2"),
            ("abc", "b*", "X", "XaXcX 3"),
            ("a,b,,c", ",", ";", "a;b;;c 3"),
            ("50%", "%%", "%%%%", "50%% 1"),
            ("x", "x", "a%%b", "a%b 1"),
            ("abc", ".", "%0", "abc 3"),
            ("abc", "$", "!", "abc! 1"),
            ("abc", "^", "!", "!abc 1"),
            ("", "", "x", "x 1"),
            ("", "a*", "x", "x 1"),
            ("abc", "a(b)c", "[%1]", "[b] 1"),
        ];
        for &(s, p, r, e) in cases {
            assert_eq!(lgsub(s, p, r), e, "gsub({s:?}, {p:?}, {r:?})");
        }
        // max_n
        let (v, n) = gsub::<String>(b"aaaa", b"a", 2, |_, o| {
            o.push(b'b');
            Ok(())
        })
        .unwrap();
        assert_eq!((v.as_slice(), n), (&b"bbaa"[..], 2));
        let (v, n) = gsub::<String>(b"aaaa", b"a", -1, |_, o| {
            o.push(b'b');
            Ok(())
        })
        .unwrap();
        assert_eq!((v.as_slice(), n), (&b"aaaa"[..], 0));
    }

    #[test]
    fn gmatch_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("hello world from lua", "%a+", "hello|world|from|lua"),
            ("k1=v1, k2=v2", "(%w+)=(%w+)", "k1,v1|k2,v2"),
            ("abc", "", "|||"),
            ("abc", "b*", "|b|"),
            ("a^b", "^b", "^b"),
            ("abc", "()", "1|2|3|4"),
            ("one;two;;three", "([^;]*)", "one|two||three"),
        ];
        for &(s, p, e) in cases {
            assert_eq!(lgmatch(s, p), e, "gmatch({s:?}, {p:?})");
        }
    }

    #[test]
    fn plain_and_specials() {
        assert_eq!(find_plain(b"hello", b"l", 0), Some(2));
        assert_eq!(find_plain(b"hello", b"", 5), Some(5));
        assert_eq!(find_plain(b"hello", b"", 6), None);
        assert_eq!(find_plain(b"hello", b"lo", 4), None);
        assert_eq!(find_plain(b"a.b", b".", 0), Some(1));
        assert!(has_specials(b"a.b"));
        assert!(!has_specials(b"a)b]"));
        assert!(has_specials(b"a\0%"));
        let m = match_at(b"xabc", b"abc", 1).unwrap().unwrap();
        assert_eq!((m.start, m.end), (1, 4));
        assert!(match_at(b"xabc", b"abc", 0).unwrap().is_none());
        assert!(match_at(b"^a", b"^a", 0).unwrap().is_some());
        assert_eq!(
            get_capture(b"abc", &m, 1),
            Err("invalid capture index %2".to_string())
        );
        assert_eq!(get_capture(b"xabc", &m, 0), Ok(CaptureValue::Str(b"abc")));
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
        let mut r = Rng(0xdead_beef);
        for _ in 0..30000 {
            let p = r.bytes(b"%^$*+?.()[]-abfdswx0123", 10);
            let s = r.bytes(b"ab()[]-x1 ", 12);
            let init = (r.next() % 14) as usize;
            let _ = find(&s, &p, init);
            let _ = match_at(&s, &p, init);
            let _ = gmatch_next(&s, &p, init, Some(init));
            let _ = gsub::<String>(&s, &p, 20, |m, o| {
                let _ = captures(&s, m, true);
                expand_replacement(&p, &s, m, o)
            });
            let _ = find_plain(&s, &p, init);
        }
    }
}
