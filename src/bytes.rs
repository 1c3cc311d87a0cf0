//! Byte-string equality eight bytes a step.
//!
//! Why: in wasm, `a == b` on slices is a call to wasi-libc's `memcmp`, a loop
//! over single bytes with an epoch check on every turn (LLVM does not expand
//! `memcmp` inline for wasm). Ids and field names are compared for every tag
//! read, so the connector's hot comparisons use this instead.

/// Whether `a` and `b` hold the same bytes.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(s);
        u64::from_le_bytes(w)
    };
    let (mut wa, mut wb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut wa).zip(&mut wb) {
        if word(x) != word(y) {
            return false;
        }
    }
    wa.remainder().iter().zip(wb.remainder()).all(|(x, y)| x == y)
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
