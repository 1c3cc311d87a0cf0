//! Byte-string equality eight bytes a step.
//!
//! Why: in wasm, `a == b` on slices is a call to wasi-libc's `memcmp`, a loop
//! over single bytes with an epoch check on every turn (LLVM does not expand
//! `memcmp` inline for wasm). Ids and field names are compared for every tag
//! read, so the connector's hot comparisons use this instead.

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

#[cfg(test)]
mod tests {
    use super::same;

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
}
