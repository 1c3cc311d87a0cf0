//! Byte-string equality and copies, eight bytes a step.
//!
//! Why: in wasm, `a == b` on slices is a call to wasi-libc's `memcmp`, a loop
//! over single bytes with an epoch check on every turn (LLVM does not expand
//! `memcmp` inline for wasm), and copying a string of unknown length is a
//! `memory.copy`, which wasmtime runs as a call into the host. Ids and field
//! names are compared and copied for every tag read, so the connector's hot
//! comparisons and copies use these instead.

/// Whether `a` and `b` hold the same bytes.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // SAFETY: every read below is of bytes [i, i + 8) or [i, i + 4) with
    // i + 8 <= n or i + 4 <= n, unaligned, within both slices (same length).
    unsafe {
        let w8 = |s: &[u8], i: usize| (s.as_ptr().add(i) as *const u64).read_unaligned();
        let w4 = |s: &[u8], i: usize| (s.as_ptr().add(i) as *const u32).read_unaligned();
        match n {
            0 => true,
            // Three reads cover one to three bytes, with no loop.
            1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
            // Two four-byte words, overlapping when n < 8.
            4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
            _ => {
                let mut i = 0;
                while i + 8 <= n {
                    if w8(a, i) != w8(b, i) {
                        return false;
                    }
                    i += 8;
                }
                // The tail as the last eight bytes, overlapping.
                i == n || w8(a, n - 8) == w8(b, n - 8)
            }
        }
    }
}

/// `s` as a new `String` of exactly its length, copied by words: eight
/// bytes a step and the tail as one overlapping word, or two overlapping
/// halves or three bytes for short strings (no byte loop, no `memory.copy`).
pub fn owned(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    let mut v: Vec<u8> = Vec::with_capacity(n);
    // SAFETY: `v` has room for n bytes; every read is within `b` and every
    // write within [0, n) of `v` (the same offsets, as in `same`); the
    // length is set once all n bytes are written.
    unsafe {
        let (src, dst) = (b.as_ptr(), v.as_mut_ptr());
        let copy8 = |i: usize| (dst.add(i) as *mut u64).write_unaligned((src.add(i) as *const u64).read_unaligned());
        let copy4 = |i: usize| (dst.add(i) as *mut u32).write_unaligned((src.add(i) as *const u32).read_unaligned());
        match n {
            0 => {}
            1..=3 => {
                dst.write(b[0]);
                dst.add(n / 2).write(b[n / 2]);
                dst.add(n - 1).write(b[n - 1]);
            }
            4..=7 => {
                copy4(0);
                copy4(n - 4);
            }
            _ => {
                let mut i = 0;
                while i + 8 < n {
                    copy8(i);
                    i += 8;
                }
                copy8(n - 8);
            }
        }
        v.set_len(n);
        // SAFETY: the bytes of a `str`, unchanged.
        String::from_utf8_unchecked(v)
    }
}

#[cfg(test)]
mod tests {
    use super::{owned, same};

    #[test]
    fn agrees_with_slice_equality() {
        let text: Vec<u8> = (0..40u8).collect();
        for len in 0..text.len() {
            let a = &text[..len];
            assert!(same(a, a));
            let copy = a.to_vec();
            assert!(same(a, copy.as_slice()));
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same(a, &b), "len {len}, at {at}");
            }
            assert!(!same(a, &text[..len + 1]));
        }
    }

    #[test]
    fn owned_copies_every_length() {
        let text: String = (0..40u8).map(|i| char::from(b'!' + i)).chain("é€😀".chars()).collect();
        for end in 0..=text.len() {
            for start in 0..=end {
                let (Some(s), true) = (text.get(start..end), true) else {
                    continue;
                };
                let o = owned(s);
                assert_eq!(o, s, "{start}..{end}");
                assert_eq!(o.capacity(), s.len());
            }
        }
    }
}
