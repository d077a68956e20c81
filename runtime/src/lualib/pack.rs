//! `string.pack`, `string.unpack` and `string.packsize` on bytes: a port
//! of lstrlib.c's format parser and (un)packers, with lua5.4's limits and
//! error texts. Native sizes are those of x86-64 Linux (int 4, long 8,
//! size_t 8, max alignment 8), which is what lua5.4 reports there.

/// Largest integer size a format may ask for (MAXINTSIZE).
const MAXINTSIZE: usize = 16;
/// Bytes in a lua_Integer (SZINT).
const SZINT: usize = 8;
/// lstrlib's MAXSIZE: sizes are kept within `int`.
const MAXSIZE: usize = i32::MAX as usize;
/// offsetof(struct cD, u): the default maximum alignment for `!`.
const MAXALIGN: usize = 8;

/// The kind of one format option (lstrlib's `KOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Uint,
    Float,
    Number,
    Double,
    Char,
    String,
    Zstr,
    Padding,
    PaddAlign,
    Nop,
}

/// One parsed option with its size and the padding that precedes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub kind: Kind,
    pub size: usize,
    pub ntoalign: usize,
}

impl Item {
    /// Whether the option consumes an argument when packing.
    pub fn takes_arg(&self) -> bool {
        !matches!(self.kind, Kind::Padding | Kind::PaddAlign | Kind::Nop)
    }
}

/// An error, by where lua5.4 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// `bad argument` for the value being packed (or for the data string
    /// when unpacking).
    Arg(String),
    /// `bad argument #1` (the format string).
    Fmt(String),
    /// A plain error.
    Plain(String),
}

/// A value to pack.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    None,
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
}

/// A value unpacked: strings are byte ranges of the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Out {
    Int(i64),
    Float(f64),
    Str(usize, usize),
}

/// The format reader (lstrlib's `Header` plus the format position).
struct Header<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    maxalign: usize,
}

impl<'a> Header<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        Header {
            fmt,
            pos: 0,
            little: cfg!(target_endian = "little"),
            maxalign: 1,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.fmt.len()
    }

    fn peek(&self) -> Option<u8> {
        self.fmt.get(self.pos).copied()
    }

    fn getnum(&mut self, df: Option<usize>) -> Option<usize> {
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return df;
        }
        let mut a = 0usize;
        loop {
            let d = self.peek().unwrap_or(b'0') - b'0';
            self.pos += 1;
            a = a * 10 + usize::from(d);
            if !(self.peek().is_some_and(|c| c.is_ascii_digit()) && a <= (MAXSIZE - 9) / 10) {
                break;
            }
        }
        Some(a)
    }

    fn getnumlimit(&mut self, df: usize) -> Result<usize, PutError> {
        let sz = self.getnum(Some(df)).unwrap_or(df);
        if sz > MAXINTSIZE || sz == 0 {
            return Err(PutError::Plain(format!(
                "integral size ({sz}) out of limits [1,{MAXINTSIZE}]"
            )));
        }
        Ok(sz)
    }

    /// lstrlib's `getoption`.
    fn getoption(&mut self) -> Result<(Kind, usize), PutError> {
        let Some(opt) = self.peek() else {
            return Ok((Kind::Nop, 0));
        };
        self.pos += 1;
        Ok(match opt {
            b'b' => (Kind::Int, 1),
            b'B' => (Kind::Uint, 1),
            b'h' => (Kind::Int, 2),
            b'H' => (Kind::Uint, 2),
            b'l' | b'j' => (Kind::Int, 8),
            b'L' | b'J' | b'T' => (Kind::Uint, 8),
            b'f' => (Kind::Float, 4),
            b'n' => (Kind::Number, 8),
            b'd' => (Kind::Double, 8),
            b'i' => (Kind::Int, self.getnumlimit(4)?),
            b'I' => (Kind::Uint, self.getnumlimit(4)?),
            b's' => (Kind::String, self.getnumlimit(8)?),
            b'c' => match self.getnum(None) {
                Some(n) => (Kind::Char, n),
                None => return Err(PutError::Plain("missing size for format option 'c'".into())),
            },
            b'z' => (Kind::Zstr, 0),
            b'x' => (Kind::Padding, 1),
            b'X' => (Kind::PaddAlign, 0),
            b' ' => (Kind::Nop, 0),
            b'<' => {
                self.little = true;
                (Kind::Nop, 0)
            }
            b'>' => {
                self.little = false;
                (Kind::Nop, 0)
            }
            b'=' => {
                self.little = cfg!(target_endian = "little");
                (Kind::Nop, 0)
            }
            b'!' => {
                self.maxalign = self.getnumlimit(MAXALIGN)?;
                (Kind::Nop, 0)
            }
            c => {
                return Err(PutError::Plain(format!(
                    "invalid format option '{}'",
                    char::from(c)
                )))
            }
        })
    }

    /// lstrlib's `getdetails`: the next option and its alignment padding
    /// at offset `total`.
    fn getdetails(&mut self, total: usize) -> Result<Item, PutError> {
        let (kind, size) = self.getoption()?;
        let mut align = size;
        if kind == Kind::PaddAlign {
            let bad = || PutError::Fmt("invalid next option for option 'X'".into());
            if self.at_end() {
                return Err(bad());
            }
            let (k, a) = self.getoption()?;
            if k == Kind::Char || a == 0 {
                return Err(bad());
            }
            align = a;
        }
        let ntoalign = if align <= 1 || kind == Kind::Char {
            0
        } else {
            let align = align.min(self.maxalign);
            if !align.is_power_of_two() {
                return Err(PutError::Fmt(
                    "format asks for alignment not power of 2".into(),
                ));
            }
            (align - (total & (align - 1))) & (align - 1)
        };
        Ok(Item {
            kind,
            size,
            ntoalign,
        })
    }
}

/// Appends `n` in `size` bytes; sizes over 8 are sign- or zero-extended.
fn packint(out: &mut Vec<u8>, n: u64, little: bool, size: usize, neg: bool) {
    let mut bytes = vec![0u8; size];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = if i < SZINT {
            (n >> (8 * i)) as u8
        } else if neg {
            0xff
        } else {
            0
        };
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn put_endian(out: &mut Vec<u8>, bytes: &[u8], little: bool) {
    // `bytes` are little-endian.
    if little {
        out.extend_from_slice(bytes);
    } else {
        out.extend(bytes.iter().rev());
    }
}

/// Incremental packer: the caller reads items and supplies each one's
/// argument, so argument errors can name the argument.
pub struct Packer<'a> {
    h: Header<'a>,
    out: Vec<u8>,
}

impl<'a> Packer<'a> {
    pub fn new(fmt: &'a [u8]) -> Self {
        Packer {
            h: Header::new(fmt),
            out: Vec::new(),
        }
    }

    /// The next option, or None at the end of the format.
    pub fn next_item(&mut self) -> Result<Option<Item>, PutError> {
        if self.h.at_end() {
            return Ok(None);
        }
        self.h.getdetails(self.out.len()).map(Some)
    }

    /// Bytes packed so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Packs `item` with its argument (`Arg::None` for options without).
    pub fn put(&mut self, item: &Item, arg: Arg<'_>) -> Result<(), PutError> {
        let little = self.h.little;
        let size = item.size;
        let arg_err = |m: &str| PutError::Arg(m.to_string());
        // Check the argument before writing anything, so a failed put
        // leaves the buffer as it was.
        match (item.kind, arg) {
            (Kind::Int, Arg::Int(n)) if size < SZINT => {
                let lim = 1i64 << (size * 8 - 1);
                if !(-lim <= n && n < lim) {
                    return Err(arg_err("integer overflow"));
                }
            }
            (Kind::Uint, Arg::Int(n)) if size < SZINT && (n as u64) >= (1u64 << (size * 8)) => {
                return Err(arg_err("unsigned overflow"));
            }
            (Kind::Char, Arg::Str(s)) if s.len() > size => {
                return Err(arg_err("string longer than given size"));
            }
            (Kind::String, Arg::Str(s)) if size < 8 && (s.len() as u64) >= (1u64 << (size * 8)) => {
                return Err(arg_err("string length does not fit in given size"));
            }
            (Kind::Zstr, Arg::Str(s)) if s.contains(&0) => {
                return Err(arg_err("string contains zeros"));
            }
            _ => {}
        }
        self.out.extend(std::iter::repeat_n(0u8, item.ntoalign));
        match (item.kind, arg) {
            (Kind::Int, Arg::Int(n)) => packint(&mut self.out, n as u64, little, size, n < 0),
            (Kind::Uint, Arg::Int(n)) => packint(&mut self.out, n as u64, little, size, false),
            (Kind::Float, Arg::Float(f)) => {
                put_endian(&mut self.out, &(f as f32).to_le_bytes(), little)
            }
            (Kind::Number | Kind::Double, Arg::Float(f)) => {
                put_endian(&mut self.out, &f.to_le_bytes(), little)
            }
            (Kind::Char, Arg::Str(s)) => {
                self.out.extend_from_slice(s);
                self.out.extend(std::iter::repeat_n(0u8, size - s.len()));
            }
            (Kind::String, Arg::Str(s)) => {
                packint(&mut self.out, s.len() as u64, little, size, false);
                self.out.extend_from_slice(s);
            }
            (Kind::Zstr, Arg::Str(s)) => {
                self.out.extend_from_slice(s);
                self.out.push(0);
            }
            (Kind::Padding, _) => self.out.push(0),
            _ => {}
        }
        Ok(())
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// `string.packsize`.
pub fn packsize(fmt: &[u8]) -> Result<usize, PutError> {
    let mut h = Header::new(fmt);
    let mut total = 0usize;
    while !h.at_end() {
        let item = h.getdetails(total)?;
        if matches!(item.kind, Kind::String | Kind::Zstr) {
            return Err(PutError::Fmt("variable-length format".into()));
        }
        let size = item.size + item.ntoalign;
        if total > MAXSIZE.saturating_sub(size) {
            return Err(PutError::Fmt("format result too large".into()));
        }
        total += size;
    }
    Ok(total)
}

fn unpackint(data: &[u8], little: bool, size: usize, signed: bool) -> Result<i64, PutError> {
    let byte = |i: usize| -> u8 {
        let idx = if little { i } else { size - 1 - i };
        data.get(idx).copied().unwrap_or(0)
    };
    let limit = size.min(SZINT);
    let mut res: u64 = 0;
    for i in (0..limit).rev() {
        res = (res << 8) | u64::from(byte(i));
    }
    if size < SZINT {
        if signed {
            let mask = 1u64 << (size * 8 - 1);
            res = (res ^ mask).wrapping_sub(mask);
        }
    } else if size > SZINT {
        let mask = if !signed || (res as i64) >= 0 {
            0
        } else {
            0xff
        };
        for i in limit..size {
            if byte(i) != mask {
                return Err(PutError::Plain(format!(
                    "{size}-byte integer does not fit into Lua Integer"
                )));
            }
        }
    }
    Ok(res as i64)
}

fn read_le<const N: usize>(data: &[u8], little: bool) -> [u8; N] {
    let mut b = [0u8; N];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(i).copied().unwrap_or(0);
    }
    if !little {
        b.reverse();
    }
    b
}

/// `string.unpack` from 0-based `pos` (already checked `<= data.len()`):
/// the values and the 0-based position after them. `Arg` errors are
/// about the data string (argument #2).
pub fn unpack(fmt: &[u8], data: &[u8], mut pos: usize) -> Result<(Vec<Out>, usize), PutError> {
    let mut h = Header::new(fmt);
    let ld = data.len();
    let mut outs = Vec::new();
    let short = || PutError::Arg("data string too short".into());
    while !h.at_end() {
        let item = h.getdetails(pos)?;
        let size = item.size;
        if item.ntoalign.saturating_add(size) > ld - pos {
            return Err(short());
        }
        pos += item.ntoalign;
        let at = data.get(pos..).unwrap_or(&[]);
        match item.kind {
            Kind::Int | Kind::Uint => outs.push(Out::Int(unpackint(
                at,
                h.little,
                size,
                item.kind == Kind::Int,
            )?)),
            Kind::Float => outs.push(Out::Float(f64::from(f32::from_le_bytes(read_le::<4>(
                at, h.little,
            ))))),
            Kind::Number | Kind::Double => {
                outs.push(Out::Float(f64::from_le_bytes(read_le::<8>(at, h.little))))
            }
            Kind::Char => outs.push(Out::Str(pos, pos + size)),
            Kind::String => {
                let len = unpackint(at, h.little, size, false)? as u64;
                if len > (ld - pos - size) as u64 {
                    return Err(short());
                }
                let len = len as usize;
                outs.push(Out::Str(pos + size, pos + size + len));
                pos += len;
            }
            Kind::Zstr => {
                let len = at.iter().position(|&c| c == 0).unwrap_or(at.len());
                if pos + len >= ld {
                    return Err(PutError::Arg("unfinished string for format 'z'".into()));
                }
                outs.push(Out::Str(pos, pos + len));
                pos += len + 1;
            }
            Kind::Padding | Kind::PaddAlign | Kind::Nop => {}
        }
        pos += size;
    }
    Ok((outs, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack_all(fmt: &[u8], args: &[Arg]) -> Result<Vec<u8>, PutError> {
        let mut p = Packer::new(fmt);
        let mut it = args.iter();
        while let Some(item) = p.next_item()? {
            let a = if item.takes_arg() {
                *it.next().unwrap_or(&Arg::None)
            } else {
                Arg::None
            };
            p.put(&item, a)?;
        }
        Ok(p.finish())
    }

    #[test]
    fn basics() {
        assert_eq!(
            pack_all(b"<i2", &[Arg::Int(0x1234)]).unwrap(),
            vec![0x34, 0x12]
        );
        assert_eq!(
            pack_all(b"!4 b i4", &[Arg::Int(1), Arg::Int(2)]).unwrap(),
            vec![1, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(packsize(b"!8 b d").unwrap(), 16);
        assert!(packsize(b"s").is_err());
        let (v, p) = unpack(b"<i3", &[255, 255, 255], 0).unwrap();
        assert_eq!((v, p), (vec![Out::Int(-1)], 3));
    }
}
