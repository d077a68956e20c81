//! The Lua 5.4 lexer: turns source bytes into tokens, one at a time.
//!
//! It follows `llex.c` closely, including the contents of Lua's token buffer,
//! because lua5.4's error messages quote that buffer (`near '"abc'`).

use std::fmt;

/// How a string literal was delimited (needed to quote it in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    /// `'...'` or `"..."`: the quote byte.
    Quote(u8),
    /// `[==[...]==]`: the number of `=` signs.
    Long(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    // Reserved words.
    And,
    Break,
    Do,
    Else,
    Elseif,
    End,
    False,
    For,
    Function,
    Goto,
    If,
    In,
    Local,
    Nil,
    Not,
    Or,
    Repeat,
    Return,
    Then,
    True,
    Until,
    While,
    // Multi-byte symbols.
    /// `//`
    IDiv,
    /// `..`
    Concat,
    /// `...`
    Dots,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `~=`
    Ne,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `::`
    DbColon,
    /// Any other single byte: `+ - * / % ^ # & ~ | < > = ( ) { } [ ] ; : , .`
    /// and also bytes that are not valid Lua (`@`, `$`, control bytes, ...),
    /// which the parser rejects.
    Char(u8),
    /// A numeral with an integer value, with its source text.
    Int(i64, String),
    /// A numeral with a float value, with its source text.
    Flt(f64, String),
    Name(String),
    Str(Vec<u8>, Delim),
    Eof,
}

const RESERVED: [(&str, Token); 22] = [
    ("and", Token::And),
    ("break", Token::Break),
    ("do", Token::Do),
    ("else", Token::Else),
    ("elseif", Token::Elseif),
    ("end", Token::End),
    ("false", Token::False),
    ("for", Token::For),
    ("function", Token::Function),
    ("goto", Token::Goto),
    ("if", Token::If),
    ("in", Token::In),
    ("local", Token::Local),
    ("nil", Token::Nil),
    ("not", Token::Not),
    ("or", Token::Or),
    ("repeat", Token::Repeat),
    ("return", Token::Return),
    ("then", Token::Then),
    ("true", Token::True),
    ("until", Token::Until),
    ("while", Token::While),
];

impl Token {
    /// The fixed spelling of reserved words and multi-byte symbols.
    fn fixed_text(&self) -> Option<&'static str> {
        Some(match self {
            Token::And => "and",
            Token::Break => "break",
            Token::Do => "do",
            Token::Else => "else",
            Token::Elseif => "elseif",
            Token::End => "end",
            Token::False => "false",
            Token::For => "for",
            Token::Function => "function",
            Token::Goto => "goto",
            Token::If => "if",
            Token::In => "in",
            Token::Local => "local",
            Token::Nil => "nil",
            Token::Not => "not",
            Token::Or => "or",
            Token::Repeat => "repeat",
            Token::Return => "return",
            Token::Then => "then",
            Token::True => "true",
            Token::Until => "until",
            Token::While => "while",
            Token::IDiv => "//",
            Token::Concat => "..",
            Token::Dots => "...",
            Token::Eq => "==",
            Token::Ge => ">=",
            Token::Le => "<=",
            Token::Ne => "~=",
            Token::Shl => "<<",
            Token::Shr => ">>",
            Token::DbColon => "::",
            _ => return None,
        })
    }

    /// The token as lua5.4 shows it after `near `: `'end'`, `'<\1>'`,
    /// `'"abc"'` (strings as Lua's buffer holds them: delimiters around the
    /// already-unescaped contents), or `<eof>` without quotes.
    pub fn near(&self) -> String {
        match self {
            Token::Eof => "<eof>".to_string(),
            Token::Char(c) => char_text(*c),
            Token::Int(_, text) | Token::Flt(_, text) => format!("'{text}'"),
            Token::Name(name) => format!("'{name}'"),
            Token::Str(value, delim) => {
                let mut buf = Vec::with_capacity(value.len() + 4);
                match delim {
                    Delim::Quote(q) => {
                        buf.push(*q);
                        buf.extend_from_slice(value);
                        buf.push(*q);
                    }
                    Delim::Long(n) => {
                        buf.push(b'[');
                        buf.extend(std::iter::repeat_n(b'=', *n));
                        buf.push(b'[');
                        buf.extend_from_slice(value);
                        buf.push(b']');
                        buf.extend(std::iter::repeat_n(b'=', *n));
                        buf.push(b']');
                    }
                }
                quote_buffer(&buf)
            }
            other => match other.fixed_text() {
                Some(s) => format!("'{s}'"),
                None => String::new(),
            },
        }
    }
}

/// `luaX_token2str` for a single byte.
fn char_text(c: u8) -> String {
    if (0x20..0x7f).contains(&c) {
        format!("'{}'", c as char)
    } else {
        format!("'<\\{c}>'")
    }
}

/// Quotes Lua's token buffer the way `txtToken` does: `'%s'`, which stops
/// at the first NUL byte. Invalid UTF-8 is replaced (lossy).
fn quote_buffer(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = buf.get(..end).unwrap_or(&[]);
    format!("'{}'", String::from_utf8_lossy(text))
}

/// A token with the line the lexer was on when it finished reading it
/// (Lua's `ls->linenumber` while the token is current).
#[derive(Debug, Clone, PartialEq)]
pub struct Tok {
    pub token: Token,
    pub line: u32,
}

/// A lexical error. The parser adds the chunk name.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub msg: String,
    pub line: u32,
    /// What to show after `near ` (`'...'` or `<eof>`).
    pub near: String,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} near {}", self.line, self.msg, self.near)
    }
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// C `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'a'..=b'f' => u32::from(c - b'a') + 10,
        b'A'..=b'F' => u32::from(c - b'A') + 10,
        _ => 0,
    }
}

pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    /// Lua's token buffer (`ls->buff`).
    buf: Vec<u8>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            buf: Vec::new(),
        }
    }

    /// The current line (Lua's `ls->linenumber`).
    pub fn line(&self) -> u32 {
        self.line
    }

    fn cur(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn cur_is(&self, c: u8) -> bool {
        self.cur() == Some(c)
    }

    fn cur_is_newline(&self) -> bool {
        matches!(self.cur(), Some(b'\n' | b'\r'))
    }

    fn next(&mut self) {
        if self.pos < self.src.len() {
            self.pos += 1;
        }
    }

    fn save(&mut self, c: u8) {
        self.buf.push(c);
    }

    fn save_and_next(&mut self) {
        if let Some(c) = self.cur() {
            self.buf.push(c);
        }
        self.next();
    }

    fn check_next1(&mut self, c: u8) -> bool {
        if self.cur_is(c) {
            self.next();
            true
        } else {
            false
        }
    }

    /// If the current byte is one of `set`, saves it and advances.
    fn check_next2(&mut self, set: &[u8; 2]) -> bool {
        match self.cur() {
            Some(c) if set.contains(&c) => {
                self.save_and_next();
                true
            }
            _ => false,
        }
    }

    fn buf_remove(&mut self, n: usize) {
        let keep = self.buf.len().saturating_sub(n);
        self.buf.truncate(keep);
    }

    /// Skips `\n`, `\r`, `\r\n` or `\n\r` and counts one line.
    fn inc_line(&mut self) {
        let old = self.cur();
        self.next();
        if self.cur_is_newline() && self.cur() != old {
            self.next();
        }
        self.line = self.line.saturating_add(1);
    }

    fn error(&self, msg: impl Into<String>, near: String) -> LexError {
        LexError {
            msg: msg.into(),
            line: self.line,
            near,
        }
    }

    /// Error quoting the token buffer (`lexerror(ls, msg, TK_STRING)`).
    fn buf_error(&self, msg: impl Into<String>) -> LexError {
        self.error(msg, quote_buffer(&self.buf))
    }

    fn eof_error(&self, msg: impl Into<String>) -> LexError {
        self.error(msg, "<eof>".to_string())
    }

    /// Reads the next token.
    pub fn next_token(&mut self) -> Result<Tok, LexError> {
        let token = self.scan()?;
        Ok(Tok {
            token,
            line: self.line,
        })
    }

    fn scan(&mut self) -> Result<Token, LexError> {
        self.buf.clear();
        loop {
            let Some(c) = self.cur() else {
                return Ok(Token::Eof);
            };
            match c {
                b'\n' | b'\r' => self.inc_line(),
                b' ' | b'\t' | 0x0b | 0x0c => self.next(),
                b'-' => {
                    self.next();
                    if !self.cur_is(b'-') {
                        return Ok(Token::Char(b'-'));
                    }
                    self.next();
                    if self.cur_is(b'[') {
                        let sep = self.skip_sep();
                        self.buf.clear();
                        if sep >= 2 {
                            self.read_long_string(sep, false)?;
                            self.buf.clear();
                            continue;
                        }
                    }
                    while !self.cur_is_newline() && self.cur().is_some() {
                        self.next();
                    }
                }
                b'[' => {
                    let sep = self.skip_sep();
                    if sep >= 2 {
                        let s = self.read_long_string(sep, true)?;
                        return Ok(Token::Str(s, Delim::Long(sep - 2)));
                    } else if sep == 0 {
                        return Err(self.buf_error("invalid long string delimiter"));
                    }
                    return Ok(Token::Char(b'['));
                }
                b'=' => {
                    self.next();
                    return Ok(if self.check_next1(b'=') {
                        Token::Eq
                    } else {
                        Token::Char(b'=')
                    });
                }
                b'<' => {
                    self.next();
                    return Ok(if self.check_next1(b'=') {
                        Token::Le
                    } else if self.check_next1(b'<') {
                        Token::Shl
                    } else {
                        Token::Char(b'<')
                    });
                }
                b'>' => {
                    self.next();
                    return Ok(if self.check_next1(b'=') {
                        Token::Ge
                    } else if self.check_next1(b'>') {
                        Token::Shr
                    } else {
                        Token::Char(b'>')
                    });
                }
                b'/' => {
                    self.next();
                    return Ok(if self.check_next1(b'/') {
                        Token::IDiv
                    } else {
                        Token::Char(b'/')
                    });
                }
                b'~' => {
                    self.next();
                    return Ok(if self.check_next1(b'=') {
                        Token::Ne
                    } else {
                        Token::Char(b'~')
                    });
                }
                b':' => {
                    self.next();
                    return Ok(if self.check_next1(b':') {
                        Token::DbColon
                    } else {
                        Token::Char(b':')
                    });
                }
                b'"' | b'\'' => {
                    let s = self.read_string(c)?;
                    return Ok(Token::Str(s, Delim::Quote(c)));
                }
                b'.' => {
                    self.save_and_next();
                    if self.check_next1(b'.') {
                        if self.check_next1(b'.') {
                            return Ok(Token::Dots);
                        }
                        return Ok(Token::Concat);
                    }
                    if !matches!(self.cur(), Some(b'0'..=b'9')) {
                        return Ok(Token::Char(b'.'));
                    }
                    return self.read_numeral();
                }
                b'0'..=b'9' => return self.read_numeral(),
                _ if is_alpha(c) => {
                    while let Some(c) = self.cur() {
                        if !is_alnum(c) {
                            break;
                        }
                        self.save_and_next();
                    }
                    // Names are ASCII, so this is lossless.
                    let name = String::from_utf8_lossy(&self.buf).into_owned();
                    for (word, tok) in RESERVED.iter() {
                        if *word == name {
                            return Ok(tok.clone());
                        }
                    }
                    return Ok(Token::Name(name));
                }
                _ => {
                    self.next();
                    return Ok(Token::Char(c));
                }
            }
        }
    }

    /// At `[` or `]`: reads `[=*` and returns the number of `=` plus 2 if
    /// it is followed by the same bracket, 1 if there were no `=`, else 0.
    fn skip_sep(&mut self) -> usize {
        let s = self.cur();
        let mut count = 0usize;
        self.save_and_next();
        while self.cur_is(b'=') {
            self.save_and_next();
            count += 1;
        }
        if self.cur() == s {
            count + 2
        } else if count == 0 {
            1
        } else {
            0
        }
    }

    /// Reads a long string or comment after its opening `[=*`.
    fn read_long_string(&mut self, sep: usize, is_string: bool) -> Result<Vec<u8>, LexError> {
        let start_line = self.line;
        self.save_and_next(); // the second '['
        if self.cur_is_newline() {
            self.inc_line();
        }
        loop {
            match self.cur() {
                None => {
                    let what = if is_string { "string" } else { "comment" };
                    return Err(self.eof_error(format!(
                        "unfinished long {what} (starting at line {start_line})"
                    )));
                }
                Some(b']') => {
                    if self.skip_sep() == sep {
                        self.save_and_next(); // the second ']'
                        break;
                    }
                }
                Some(b'\n' | b'\r') => {
                    self.save(b'\n');
                    self.inc_line();
                    if !is_string {
                        self.buf.clear();
                    }
                }
                Some(_) => {
                    if is_string {
                        self.save_and_next();
                    } else {
                        self.next();
                    }
                }
            }
        }
        if !is_string {
            return Ok(Vec::new());
        }
        let end = self.buf.len().saturating_sub(sep);
        Ok(self.buf.get(sep..end).unwrap_or(&[]).to_vec())
    }

    /// `esccheck`: on failure, adds the current byte to the buffer (for the
    /// message) and fails.
    fn esc_check(&mut self, ok: bool, msg: &str) -> Result<(), LexError> {
        if ok {
            return Ok(());
        }
        if self.cur().is_some() {
            self.save_and_next();
        }
        Err(self.buf_error(msg))
    }

    fn get_hexa(&mut self) -> Result<u32, LexError> {
        self.save_and_next();
        let c = self.cur();
        self.esc_check(
            c.is_some_and(|c| c.is_ascii_hexdigit()),
            "hexadecimal digit expected",
        )?;
        Ok(c.map_or(0, hex_value))
    }

    fn read_hexa_esc(&mut self) -> Result<u8, LexError> {
        let hi = self.get_hexa()?;
        let lo = self.get_hexa()?;
        self.buf_remove(2);
        Ok(((hi << 4) | lo) as u8)
    }

    fn read_utf8_esc(&mut self) -> Result<u32, LexError> {
        let mut remove = 4; // '\', 'u', '{', and the first digit
        self.save_and_next(); // 'u'
        let open = self.cur_is(b'{');
        self.esc_check(open, "missing '{'")?;
        let mut r = self.get_hexa()?;
        loop {
            self.save_and_next();
            let Some(c) = self.cur().filter(|c| c.is_ascii_hexdigit()) else {
                break;
            };
            remove += 1;
            self.esc_check(r <= (0x7FFF_FFFF >> 4), "UTF-8 value too large")?;
            r = (r << 4) + hex_value(c);
        }
        let close = self.cur_is(b'}');
        self.esc_check(close, "missing '}'")?;
        self.next();
        self.buf_remove(remove);
        Ok(r)
    }

    fn read_dec_esc(&mut self) -> Result<u8, LexError> {
        let mut r: u32 = 0;
        let mut i = 0;
        while i < 3 {
            match self.cur() {
                Some(c @ b'0'..=b'9') => {
                    r = 10 * r + u32::from(c - b'0');
                    self.save_and_next();
                }
                _ => break,
            }
            i += 1;
        }
        self.esc_check(r <= 255, "decimal escape too large")?;
        self.buf_remove(i);
        Ok(r as u8)
    }

    fn read_string(&mut self, del: u8) -> Result<Vec<u8>, LexError> {
        self.save_and_next(); // keep the delimiter for error messages
        loop {
            let Some(c) = self.cur() else {
                return Err(self.eof_error("unfinished string"));
            };
            if c == del {
                break;
            }
            match c {
                b'\n' | b'\r' => return Err(self.buf_error("unfinished string")),
                b'\\' => {
                    self.save_and_next(); // keep '\' for error messages
                    let Some(e) = self.cur() else {
                        continue; // "unfinished string" on the next round
                    };
                    let value = match e {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        b'\\' | b'"' | b'\'' => e,
                        b'x' => {
                            let v = self.read_hexa_esc()?;
                            self.next();
                            self.buf_remove(1);
                            self.save(v);
                            continue;
                        }
                        b'u' => {
                            // (read_utf8_esc also removed the '\')
                            let v = self.read_utf8_esc()?;
                            let mut out = [0u8; 8];
                            let n = utf8_esc(&mut out, v);
                            for &b in out.get(..n).unwrap_or(&[]) {
                                self.save(b);
                            }
                            continue;
                        }
                        b'\n' | b'\r' => {
                            self.inc_line();
                            self.buf_remove(1);
                            self.save(b'\n');
                            continue;
                        }
                        b'z' => {
                            self.buf_remove(1);
                            self.next();
                            while let Some(s) = self.cur() {
                                if !is_space(s) {
                                    break;
                                }
                                if self.cur_is_newline() {
                                    self.inc_line();
                                } else {
                                    self.next();
                                }
                            }
                            continue;
                        }
                        _ => {
                            self.esc_check(e.is_ascii_digit(), "invalid escape sequence")?;
                            let v = self.read_dec_esc()?;
                            self.buf_remove(1);
                            self.save(v);
                            continue;
                        }
                    };
                    self.next();
                    self.buf_remove(1);
                    self.save(value);
                }
                _ => self.save_and_next(),
            }
        }
        self.save_and_next(); // the closing delimiter
        let end = self.buf.len().saturating_sub(1);
        Ok(self.buf.get(1..end).unwrap_or(&[]).to_vec())
    }

    fn read_numeral(&mut self) -> Result<Token, LexError> {
        let first = self.cur();
        let mut expo = b"Ee";
        self.save_and_next();
        if first == Some(b'0') && self.check_next2(b"xX") {
            expo = b"Pp";
        }
        loop {
            if self.check_next2(expo) {
                self.check_next2(b"-+");
            } else if self
                .cur()
                .is_some_and(|c| c.is_ascii_hexdigit() || c == b'.')
            {
                self.save_and_next();
            } else {
                break;
            }
        }
        if self.cur().is_some_and(is_alpha) {
            self.save_and_next(); // force an error
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        match str2number(&self.buf) {
            Some(Number::Int(i)) => Ok(Token::Int(i, text)),
            Some(Number::Flt(f)) => Ok(Token::Flt(f, text)),
            None => Err(self.buf_error("malformed number")),
        }
    }
}

/// `luaO_utf8esc`: encodes `x` (at most 0x7FFFFFFF) the way Lua does, in
/// up to 6 bytes (so also surrogates and values above 0x10FFFF), into
/// `out[..n]`; returns `n`. Useful for `utf8.char` too.
pub fn utf8_esc(out: &mut [u8; 8], x: u32) -> usize {
    if x < 0x80 {
        out[0] = x as u8;
        return 1;
    }
    let mut x = x;
    let mut tmp = [0u8; 8];
    let mut n = 0usize;
    let mut mfb: u32 = 0x3f; // maximum that fits in the first byte
    loop {
        tmp[7 - n] = (0x80 | (x & 0x3f)) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb || n >= 6 {
            break;
        }
    }
    tmp[7 - n] = ((!mfb << 1) | x) as u8;
    n += 1;
    out[..n].copy_from_slice(&tmp[8 - n..]);
    n
}

/// A numeric value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Flt(f64),
}

/// `luaO_str2num`, the conversion behind numerals, `tonumber` and string
/// coercions: the whole string, with optional surrounding whitespace and
/// an optional sign, must be a numeral. An integer if it is a decimal
/// integer that fits or any hex integer (wrapping modulo 2^64), else a
/// float as C's `strtod` reads it (decimal or hex; no `inf`/`nan`), else
/// `None`.
pub fn str2number(s: &[u8]) -> Option<Number> {
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |p| p + 1);
    let t = s.get(start..end)?;
    let (neg, body) = match t {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, t),
    };
    if let Some(a) = str2int(body, neg) {
        let v = if neg { 0u64.wrapping_sub(a) } else { a };
        return Some(Number::Int(v as i64));
    }
    let f = str2float(body)?;
    Some(Number::Flt(if neg { -f } else { f }))
}

/// The magnitude of an unsigned integer numeral (`neg`: it will be negated,
/// so 2^63 still fits).
fn str2int(s: &[u8], neg: bool) -> Option<u64> {
    let mut a: u64 = 0;
    if let [b'0', b'x' | b'X', digits @ ..] = s {
        if digits.is_empty() {
            return None;
        }
        for &c in digits {
            if !c.is_ascii_hexdigit() {
                return None;
            }
            a = a.wrapping_mul(16).wrapping_add(u64::from(hex_value(c)));
        }
    } else {
        if s.is_empty() {
            return None;
        }
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            let d = u64::from(c - b'0');
            a = a.checked_mul(10)?.checked_add(d)?;
            if a > i64::MAX as u64 + u64::from(neg) {
                return None;
            }
        }
    }
    Some(a)
}

fn str2float(s: &[u8]) -> Option<f64> {
    if s.iter().any(|&c| c == b'n' || c == b'N') {
        return None; // Lua rejects 'inf' and 'nan'
    }
    if let [b'0', b'x' | b'X', rest @ ..] = s {
        return hex_float(rest);
    }
    // Validate the strtod decimal syntax, then let Rust convert it
    // (correctly rounded, like glibc's strtod).
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if s.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

/// Reads the part of a hexadecimal float after `0x` as C99 `strtod` does,
/// correctly rounded (round half to even).
fn hex_float(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut sig_digits = 0u32; // hex digits stored in `mant`
    let mut any_digit = false;
    let mut sticky = false;
    let mut exp: i64 = 0; // binary exponent adjustment
    let mut seen_point = false;
    while let Some(&c) = s.get(i) {
        if c == b'.' {
            if seen_point {
                break;
            }
            seen_point = true;
        } else if c.is_ascii_hexdigit() {
            any_digit = true;
            let d = u64::from(hex_value(c));
            if mant == 0 && d == 0 {
                // Leading zero: only its position matters.
                if seen_point {
                    exp = exp.saturating_sub(4);
                }
            } else if sig_digits < 16 {
                mant = (mant << 4) | d;
                sig_digits += 1;
                if seen_point {
                    exp = exp.saturating_sub(4);
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exp = exp.saturating_add(4);
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        i += 1;
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = s.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            e = (e * 10 + i64::from(c - b'0')).min(1 << 50);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp = if neg {
            exp.saturating_sub(e)
        } else {
            exp.saturating_add(e)
        };
    }
    if i != s.len() {
        return None;
    }
    Some(compose_float(mant, exp, sticky))
}

/// The f64 nearest to `mant * 2^exp` (plus a little more if `sticky`).
fn compose_float(mant: u64, exp: i64, sticky: bool) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    let lz = mant.leading_zeros();
    let m = mant << lz;
    // value = m * 2^(exp - lz), with m's top bit set: 1.f * 2^e2
    let e2 = exp.saturating_sub(i64::from(lz)).saturating_add(63);
    if e2 > 1023 {
        return f64::INFINITY;
    }
    let keep: i64 = if e2 >= -1022 { 53 } else { e2 + 1075 };
    if keep < 0 {
        return 0.0;
    }
    let shift = (64 - keep) as u32; // 11..=64
    let (q, rem) = if shift >= 64 {
        (0u64, m)
    } else {
        (m >> shift, m & ((1u64 << shift) - 1))
    };
    let half = 1u64 << (shift - 1);
    let round_up = rem > half || (rem == half && (sticky || q & 1 == 1));
    let mut q = q + u64::from(round_up);
    if keep == 53 {
        let mut e = e2;
        if q == 1 << 53 {
            q = 1 << 52;
            e += 1;
        }
        if e > 1023 {
            return f64::INFINITY;
        }
        let biased = (e + 1023) as u64;
        f64::from_bits((biased << 52) | (q & ((1 << 52) - 1)))
    } else {
        // Subnormal (q == 2^52 is exactly the smallest normal).
        f64::from_bits(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(src: &str) -> Result<Vec<Tok>, LexError> {
        let mut lx = Lexer::new(src.as_bytes());
        let mut out = Vec::new();
        loop {
            let t = lx.next_token()?;
            if t.token == Token::Eof {
                return Ok(out);
            }
            out.push(t);
        }
    }

    /// A compact description of a token for table-driven tests.
    fn show(t: &Token) -> String {
        match t {
            Token::Int(i, _) => format!("int:{i}"),
            Token::Flt(f, _) => format!("flt:{f:?}"),
            Token::Name(n) => format!("name:{n}"),
            Token::Str(s, _) => format!("str:{}", String::from_utf8_lossy(s).escape_debug()),
            Token::Eof => "eof".into(),
            other => other.near(),
        }
    }

    fn check_tokens(cases: &[(&str, &str)]) {
        for (src, want) in cases {
            let got = match lex_all(src) {
                Ok(toks) => toks
                    .iter()
                    .map(|t| show(&t.token))
                    .collect::<Vec<_>>()
                    .join(" "),
                Err(e) => format!("error {e}"),
            };
            assert_eq!(&got, want, "source: {src:?}");
        }
    }

    #[test]
    fn every_token_kind() {
        check_tokens(&[
            (
                "and break do else elseif end false for function goto if in",
                "'and' 'break' 'do' 'else' 'elseif' 'end' 'false' 'for' 'function' 'goto' 'if' 'in'",
            ),
            (
                "local nil not or repeat return then true until while",
                "'local' 'nil' 'not' 'or' 'repeat' 'return' 'then' 'true' 'until' 'while'",
            ),
            ("+ - * / // % ^ #", "'+' '-' '*' '/' '//' '%' '^' '#'"),
            ("& ~ | << >> ~=", "'&' '~' '|' '<<' '>>' '~='"),
            ("== <= >= < > =", "'==' '<=' '>=' '<' '>' '='"),
            ("( ) { } [ ] :: ; : , . .. ...", "'(' ')' '{' '}' '[' ']' '::' ';' ':' ',' '.' '..' '...'"),
            ("a.b:c", "name:a '.' name:b ':' name:c"),
            ("....", "'...' '.'"),
            ("a..b", "name:a '..' name:b"),
            ("<<=>>=", "'<<' '=' '>>' '='"),
            ("///", "'//' '/'"),
            ("~~=", "'~' '~='"),
            (":::", "'::' ':'"),
            ("===", "'==' '='"),
            ("_ _x x_1 And END nil0", "name:_ name:_x name:x_1 name:And name:END name:nil0"),
            ("@ $ ! ? ` \\", "'@' '$' '!' '?' '`' '\\'"),
            ("\x01 \u{7f}", "'<\\1>' '<\\127>'"),
            ("a -- comment\nb", "name:a name:b"),
            ("a --[[ long\n comment ]] b", "name:a name:b"),
            ("a --[==[ ]] ]=] ]==] b", "name:a name:b"),
            ("a --[=x comment\nb", "name:a name:b"),
            ("a --", "name:a"),
            ("a\x0b\x0c\tb", "name:a name:b"),
            ("[[a]] [=[b]=] [==[c]]d]==]", "str:a str:b str:c]]d"),
            ("[ [", "'[' '['"),
            ("[[\nx]]", "str:x"),
            ("[[\r\nx]]", "str:x"),
            ("[[\n\nx]]", "str:\\nx"),
            ("[[a\r\nb\n\rc\rd\ne]]", "str:a\\nb\\nc\\nd\\ne"),
            ("[[a\r\rb]]", "str:a\\n\\nb"),
            ("[==[]=]]==]", "str:]=]"),
            ("[[]]", "str:"),
        ]);
    }

    #[test]
    fn numerals() {
        check_tokens(&[
            ("0", "int:0"),
            ("1 00012", "int:1 int:12"),
            ("9223372036854775807", "int:9223372036854775807"),
            ("9223372036854775808", "flt:9.223372036854776e18"),
            ("18446744073709551616", "flt:1.8446744073709552e19"),
            (
                "123456789012345678901234567890",
                "flt:1.2345678901234568e29",
            ),
            (
                "0x10 0xff 0XaBcDeF 0X1",
                "int:16 int:255 int:11259375 int:1",
            ),
            ("0xffffffffffffffff", "int:-1"),
            ("0x10000000000000000", "int:0"),
            ("0x7fffffffffffffff1", "int:-15"),
            ("0x7fffffffffffffff", "int:9223372036854775807"),
            (
                "1.5 1e10 1E+2 1e-2",
                "flt:1.5 flt:10000000000.0 flt:100.0 flt:0.01",
            ),
            (".5 5. 3.", "flt:0.5 flt:5.0 flt:3.0"),
            ("1e400 1e-400", "flt:inf flt:0.0"),
            ("4.9e-324", "flt:5e-324"),
            (
                "2.4703282292062328e-324 2.4703282292062327e-324",
                "flt:5e-324 flt:0.0",
            ),
            (
                "0x.8 0x1p4 0x1P-2 0xA.8p1",
                "flt:0.5 flt:16.0 flt:0.25 flt:21.0",
            ),
            ("0xep1 0xe+1", "flt:28.0 int:14 '+' int:1"),
            ("0x.1p-1070", "flt:5e-324"),
            ("0x1p-1080", "flt:0.0"),
            ("0x1.fffffffffffff8p1023", "flt:inf"),
            ("0x1.fffffffffffff7ffp1023", "flt:1.7976931348623157e308"),
            ("0x1.0000000000000800000000001p0", "flt:1.0000000000000002"),
            ("0x1.00000000000008p0", "flt:1.0"),
            ("0x1.00000000000018p0", "flt:1.0000000000000004"),
            ("0x.0000000000000000000000000000000000000001p160", "flt:1.0"),
            ("0x100000000000000000000000000000000p-128", "flt:1.0"),
            (
                "0x1p-1074 0x1p-1075 0x1.8p-1075 0x1p-1076",
                "flt:5e-324 flt:0.0 flt:5e-324 flt:0.0",
            ),
            (
                "0x1p-1022 0x0.fffffffffffffp-1022",
                "flt:2.2250738585072014e-308 flt:2.225073858507201e-308",
            ),
            ("0x1.ffffffffffffffp-1023", "flt:2.2250738585072014e-308"),
            ("0x1p1024 0x1p1023", "flt:inf flt:8.98846567431158e307"),
            (
                "0x1p99999999999999999999 0x1p-99999999999999999999",
                "flt:inf flt:0.0",
            ),
            ("3 .. 4", "int:3 '..' int:4"),
            ("3x", "error 1: malformed number near '3x'"),
            ("3abc", "error 1: malformed number near '3abc'"),
            ("0x", "error 1: malformed number near '0x'"),
            ("1e", "error 1: malformed number near '1e'"),
            ("1e+", "error 1: malformed number near '1e+'"),
            ("1ee", "error 1: malformed number near '1ee'"),
            ("1..2", "error 1: malformed number near '1..2'"),
            ("2.5e3.4", "error 1: malformed number near '2.5e3.4'"),
            ("0x1p", "error 1: malformed number near '0x1p'"),
            ("0x1p1.5", "error 1: malformed number near '0x1p1.5'"),
            ("0x.", "error 1: malformed number near '0x.'"),
            ("0x1n", "error 1: malformed number near '0x1n'"),
            ("1_", "error 1: malformed number near '1_'"),
            ("\n\n.5e", "error 3: malformed number near '.5e'"),
        ]);
    }

    #[test]
    fn escapes() {
        check_tokens(&[
            (
                r#""\a\b\f\n\r\t\v""#,
                "str:\\u{7}\\u{8}\\u{c}\\n\\r\\t\\u{b}",
            ),
            (r#""\\\"\'""#, "str:\\\\\\\"\\'"),
            (r#"'\'"'"#, "str:\\'\\\""),
            (r#""\x41\x4a\x4A""#, "str:AJJ"),
            (r#""\65\066\0651\0""#, "str:ABA1\\0"),
            (r#""\255\2555""#, "str:\u{fffd}\u{fffd}5"),
            (r#""\u{48}\u{0}\u{7F}""#, "str:H\\0\\u{7f}"),
            (r#""\u{E9}\u{20AC}\u{1F600}""#, "str:é€😀"),
            ("\"a\\z  \n\t  b\"", "str:ab"),
            ("\"a\\zb\"", "str:ab"),
            ("\"a\\\nb\"", "str:a\\nb"),
            ("\"a\\\r\nb\"", "str:a\\nb"),
            ("\"a\\\n\rb\"", "str:a\\nb"),
            ("\"a\\\rb\"", "str:a\\nb"),
            ("'a\"b' \"a'b\"", "str:a\\\"b str:a\\'b"),
            (r#""\q""#, "error 1: invalid escape sequence near '\"\\q'"),
            (
                r#""abc\q""#,
                "error 1: invalid escape sequence near '\"abc\\q'",
            ),
            (
                r#""a\tb\q""#,
                "error 1: invalid escape sequence near '\"a\tb\\q'",
            ),
            (
                r#""\300""#,
                "error 1: decimal escape too large near '\"\\300\"'",
            ),
            (
                r#""\256""#,
                "error 1: decimal escape too large near '\"\\256\"'",
            ),
            (
                r#""\xg""#,
                "error 1: hexadecimal digit expected near '\"\\xg'",
            ),
            (
                r#""\x5g""#,
                "error 1: hexadecimal digit expected near '\"\\x5g'",
            ),
            (
                r#""a\xa"#,
                "error 1: hexadecimal digit expected near '\"a\\xa'",
            ),
            (
                r#""\u{110000000}""#,
                "error 1: UTF-8 value too large near '\"\\u{110000000'",
            ),
            (
                r#""\u{80000000}""#,
                "error 1: UTF-8 value too large near '\"\\u{80000000'",
            ),
            (r#""\u123""#, "error 1: missing '{' near '\"\\u1'"),
            (r#""a\u"#, "error 1: missing '{' near '\"a\\u'"),
            (r#""\u{12""#, "error 1: missing '}' near '\"\\u{12\"'"),
            (
                r#""\u{}""#,
                "error 1: hexadecimal digit expected near '\"\\u{}'",
            ),
            (
                r#""a\u{"#,
                "error 1: hexadecimal digit expected near '\"a\\u{'",
            ),
            ("\"abc", "error 1: unfinished string near <eof>"),
            ("\"abc\ny\"", "error 1: unfinished string near '\"abc'"),
            ("\"abc\ry\"", "error 1: unfinished string near '\"abc'"),
            ("\"a\\", "error 1: unfinished string near <eof>"),
            ("'abc\\z", "error 1: unfinished string near <eof>"),
            ("'\\z\n\n", "error 3: unfinished string near <eof>"),
            (
                "x = [==[ abc",
                "error 1: unfinished long string (starting at line 1) near <eof>",
            ),
            (
                "\n[[\n\n",
                "error 4: unfinished long string (starting at line 2) near <eof>",
            ),
            (
                "--[==[ abc\n",
                "error 2: unfinished long comment (starting at line 1) near <eof>",
            ),
            ("[=", "error 1: invalid long string delimiter near '[='"),
            ("[==x", "error 1: invalid long string delimiter near '[=='"),
        ]);
    }

    #[test]
    fn string_to_number() {
        // Expected values from lua5.4's tonumber.
        let cases: &[(&str, Option<Number>)] = &[
            (" 10 ", Some(Number::Int(10))),
            ("-10", Some(Number::Int(-10))),
            ("+5", Some(Number::Int(5))),
            ("- 10", None),
            ("+-5", None),
            ("0x", None),
            ("-0x10", Some(Number::Int(-16))),
            ("-0xffffffffffffffff", Some(Number::Int(1))),
            ("1e1", Some(Number::Flt(10.0))),
            (" -1.5 ", Some(Number::Flt(-1.5))),
            ("-.5", Some(Number::Flt(-0.5))),
            ("5.", Some(Number::Flt(5.0))),
            ("-9223372036854775808", Some(Number::Int(i64::MIN))),
            (
                "9223372036854775808",
                Some(Number::Flt(9223372036854775808.0)),
            ),
            (
                "-9223372036854775809",
                Some(Number::Flt(-9223372036854775808.0)),
            ),
            ("inf", None),
            ("nan", None),
            ("", None),
            ("  ", None),
            ("1 2", None),
            ("\t0x1p4\n", Some(Number::Flt(16.0))),
            ("\x0b\x0c1\r", Some(Number::Int(1))),
            ("0x1P+4", Some(Number::Flt(16.0))),
            ("0x.8", Some(Number::Flt(0.5))),
            ("0x1e+5", None),
            ("1e", None),
            ("1e+5", Some(Number::Flt(100000.0))),
            ("1\0", None),
        ];
        for (s, want) in cases {
            assert_eq!(str2number(s.as_bytes()), *want, "{s:?}");
        }
    }

    #[test]
    fn utf8_escape_encoding() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0]),
            (0x7f, &[0x7f]),
            (0x80, &[0xc2, 0x80]),
            (0x7ff, &[0xdf, 0xbf]),
            (0x800, &[0xe0, 0xa0, 0x80]),
            (0xffff, &[0xef, 0xbf, 0xbf]),
            (0x10000, &[0xf0, 0x90, 0x80, 0x80]),
            (0x10ffff, &[0xf4, 0x8f, 0xbf, 0xbf]),
            (0x1fffff, &[0xf7, 0xbf, 0xbf, 0xbf]),
            (0x200000, &[0xf8, 0x88, 0x80, 0x80, 0x80]),
            (0x3ffffff, &[0xfb, 0xbf, 0xbf, 0xbf, 0xbf]),
            (0x4000000, &[0xfc, 0x84, 0x80, 0x80, 0x80, 0x80]),
            (0x7fffffff, &[0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf]),
        ];
        for (x, want) in cases {
            let mut out = [0u8; 8];
            let n = utf8_esc(&mut out, *x);
            assert_eq!(&out[..n], *want, "code point {x:#x}");
        }
    }

    fn check_lines(cases: &[(&str, &[u32])]) {
        for (src, want) in cases {
            let toks = lex_all(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            let lines: Vec<u32> = toks.iter().map(|t| t.line).collect();
            assert_eq!(&lines, want, "source: {src:?}");
        }
    }

    #[test]
    fn line_counting() {
        check_lines(&[
            ("a\nb\rc\r\nd\n\re", &[1, 2, 3, 4, 5]),
            ("a\n\nb\r\rc\n\r\n\rd", &[1, 3, 5, 7]),
            ("a\r\n\r\nb", &[1, 3]),
            ("a\n\r\r\nb", &[1, 3]),
            ("a --x\nb --[[\n\n]] c", &[1, 2, 4]),
            ("[[\nab\ncd]] x", &[3, 3]),
            ("'a\\z\n\n b' x", &[3, 3]),
            ("'a\\\r\nb' x", &[2, 2]),
            ("'a\\\n\rb' x", &[2, 2]),
        ]);
    }

    #[test]
    fn near_texts() {
        let cases: &[(Token, &str)] = &[
            (Token::Eof, "<eof>"),
            (Token::End, "'end'"),
            (Token::Dots, "'...'"),
            (Token::Char(b'='), "'='"),
            (Token::Char(200), "'<\\200>'"),
            (Token::Name("x".into()), "'x'"),
            (Token::Int(16, "0x10".into()), "'0x10'"),
            (Token::Str(b"aA".to_vec(), Delim::Quote(b'\'')), "''aA''"),
            (Token::Str(b"a\0b".to_vec(), Delim::Quote(b'"')), "'\"a'"),
            (Token::Str(b"a\nb".to_vec(), Delim::Long(0)), "'[[a\nb]]'"),
            (Token::Str(b"x".to_vec(), Delim::Long(2)), "'[==[x]==]'"),
        ];
        for (tok, want) in cases {
            assert_eq!(&tok.near(), want);
        }
    }
}
