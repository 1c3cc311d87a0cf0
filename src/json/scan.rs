//! A cursor over JSON text, for the answers read for every tag: GHL's tags
//! pages and Rankr's batch results.
//!
//! Why: serde_json reads each key and value through a chain of visitor and
//! accessor calls, and inside wasm every call and every loop turn also pays
//! an epoch check, so those answers ran at about 2.5× their native
//! instruction count. A reader built on this cursor reads the plain shape
//! of such an answer in one pass and gives up (`None`) on anything else —
//! an escaped string, a wrong type, a key twice, text that is not JSON — so
//! that serde reads it again and names the problem. Every method checks
//! what it steps over as serde_json does, so `None` is the only difference.

/// Deeper than this, unknown values are left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// The first quote, backslash or byte below 0x20 at or after `i` (else the
/// length), eight bytes a step. Plain indices in and out: in wasm a slice or
/// an `Option` returned goes through memory, and this runs for every key
/// and value read.
fn stop(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= b.len() {
        // SAFETY: i + 8 <= len: the eight-byte read is in bounds.
        let x = unsafe { (b.as_ptr().add(i) as *const u64).read_unaligned() };
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let hits = (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            // The lowest flagged byte is exact (borrows only run upward).
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] >= 0x20 && b[i] != b'"' && b[i] != b'\\' {
        i += 1;
    }
    i
}

pub struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// At the start of `text`, white space skipped.
    pub fn new(text: &'a str) -> Self {
        let mut c = Cursor {
            b: text.as_bytes(),
            i: 0,
        };
        c.ws();
        c
    }

    /// Only white space is left.
    pub fn end(mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// JSON's four white-space bytes.
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&byte);
        self.i += usize::from(hit);
        hit
    }

    /// `{ "key": value, … }`: `value` reads the value after each key.
    pub fn object(&mut self, mut value: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{').then_some(())?;
        self.ws();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.eat(b':').then_some(())?;
            self.ws();
            value(self, key)?;
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            return self.eat(b'}').then_some(());
        }
    }

    /// `[ value, … ]`.
    pub fn array(&mut self, mut value: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[').then_some(())?;
        self.ws();
        if self.eat(b']') {
            return Some(());
        }
        loop {
            value(self)?;
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            return self.eat(b']').then_some(());
        }
    }

    /// A string with no escape and no control byte in it.
    #[inline]
    pub fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"').then_some(())?;
        let start = self.i;
        let at = stop(self.b, start);
        (self.b.get(at) == Some(&b'"')).then_some(())?;
        self.i = at + 1;
        let bytes = self.b.get(start..at)?;
        // SAFETY: the bytes between two quotes of a `str` (`new` takes
        // one): quotes are ASCII, so no character is split.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }

    /// A string (as [`Cursor::string`]) or null.
    #[inline]
    pub fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.literal(b"null") {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// true, false or null.
    pub fn bool_or_null(&mut self) -> Option<Option<bool>> {
        match self.b.get(self.i)? {
            b't' => self.literal(b"true").then_some(Some(true)),
            b'f' => self.literal(b"false").then_some(Some(false)),
            _ => self.literal(b"null").then_some(None),
        }
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b.get(self.i..self.i + word.len()) == Some(word);
        self.i += if hit { word.len() } else { 0 };
        hit
    }

    /// Steps over any value with no escaped string in it, as [`Cursor::skip`],
    /// and gives its text (for serde to read one value).
    pub fn raw(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.skip()?;
        self.b.get(start..self.i)
    }

    /// Steps over any value with no escaped string in it, checking it as
    /// serde_json does.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *self.b.get(self.i)? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|c, _| c.skip_at(depth + 1)),
            b'[' => self.array(|c| c.skip_at(depth + 1)),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number(),
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.') {
            self.b.get(self.i)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.b.get(self.i)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}
