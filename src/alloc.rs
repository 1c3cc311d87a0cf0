//! The component's allocator: free lists of small blocks, by size class, in
//! front of wasi-libc's `dlmalloc`.
//!
//! Why: a sync allocates and frees about 15 small blocks per tag (ids, names,
//! timestamps) in bursts of a page. Inside wasm every `dlmalloc`/`dlfree`
//! call runs its full bin logic behind three wrapper calls, each with an
//! epoch check; callgrind put the allocator at 19% of the component's
//! instructions per tag (BENCHMARKS.md). Natively glibc keeps per-size caches
//! for the same reason; this is that cache for the guest.
//!
//! How: a request of at most [`MAX_SMALL`] bytes and alignment at most
//! [`GRAIN`] is rounded up to its class (a multiple of [`GRAIN`]). A freed
//! block goes on its class's list (the link is stored in the block itself)
//! and the next request of that class takes it back: a load and a store
//! each way. Every small block was first obtained from the inner allocator
//! with its class's layout, so a block that outgrows the classes can be
//! handed to the inner `realloc` as such. Freed small blocks are kept for
//! reuse, never returned: the bench's 100,000-tag peak stays within its
//! budget (BENCHMARKS.md has the figure).
//!
//! The lists are plain cells: `wasm32-wasip2` has no threads. The type is
//! `Sync` only there (see [`SmallBlocks`]'s impl), so it cannot be installed
//! as a global allocator where threads exist; native unit tests use a value.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// Class granularity and the largest alignment served from the lists.
pub const GRAIN: usize = 8;
/// The largest request served from the lists.
pub const MAX_SMALL: usize = 256;
const CLASSES: usize = MAX_SMALL / GRAIN;

/// Size-class free lists over an inner allocator `A`.
pub struct SmallBlocks<A> {
    inner: A,
    heads: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: a single-threaded target (no `atomics` target feature, so no
// shared-memory threads) cannot reach the cells from two threads.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SmallBlocks<A> {}

impl<A> SmallBlocks<A> {
    pub const fn new(inner: A) -> Self {
        SmallBlocks {
            inner,
            heads: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The class of a layout, or `None` for one the inner allocator serves.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if size == 0 || size > MAX_SMALL || layout.align() > GRAIN {
        return None;
    }
    Some((size - 1) / GRAIN)
}

/// The layout every block of class `c` was obtained with.
#[inline]
fn class_layout(c: usize) -> Layout {
    // SAFETY: (c + 1) * GRAIN <= MAX_SMALL, and GRAIN is a power of two.
    unsafe { Layout::from_size_align_unchecked((c + 1) * GRAIN, GRAIN) }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SmallBlocks<A> {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class_of(layout) else {
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: single-threaded (see the `Sync` impl); a listed block is
        // free, at least GRAIN bytes, and holds the next block's address.
        unsafe {
            let head = &mut (*self.heads.get())[c];
            let block = *head;
            if block.is_null() {
                return self.inner.alloc(class_layout(c));
            }
            *head = (block as *mut *mut u8).read();
            block
        }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(c) = class_of(layout) else {
            return unsafe { self.inner.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`; the caller gives the block up.
        unsafe {
            let head = &mut (*self.heads.get())[c];
            (block as *mut *mut u8).write(*head);
            *head = block;
        }
    }

    #[inline(always)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `new_size` with `layout`'s alignment is valid (the caller's
        // contract); small blocks came from the inner allocator with their
        // class layout, large ones with their own.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            match (class_of(layout), class_of(new_layout)) {
                (Some(a), Some(b)) if a == b => block,
                (Some(a), None) => self.inner.realloc(block, class_layout(a), new_size),
                (None, None) => self.inner.realloc(block, layout, new_size),
                _ => {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

/// The component's global allocator: the one [`SmallBlocks`] over the
/// system allocator (wasi-libc's `dlmalloc`).
///
/// A zero-sized front with out-of-line methods, so each of the thousands of
/// allocation sites is a plain three-argument call: inlined, the lists cost
/// 40 KB of component, and a `&self` to the lists costs 17 KB (the address
/// is materialised at every site).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub struct GuestAlloc;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
static LISTS: SmallBlocks<std::alloc::System> = SmallBlocks::new(std::alloc::System);

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl GlobalAlloc for GuestAlloc {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { LISTS.alloc(layout) }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { LISTS.dealloc(block, layout) }
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { LISTS.realloc(block, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_cover_small_aligned_requests_only() {
        assert_eq!(class_of(layout(1, 1)), Some(0));
        assert_eq!(class_of(layout(8, 8)), Some(0));
        assert_eq!(class_of(layout(9, 1)), Some(1));
        assert_eq!(class_of(layout(MAX_SMALL, 4)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(MAX_SMALL + 1, 1)), None);
        assert_eq!(class_of(layout(16, 16)), None);
        assert_eq!(class_of(layout(0, 1)), None);
        for c in 0..CLASSES {
            assert_eq!(class_of(class_layout(c)), Some(c));
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_alone() {
        let a = SmallBlocks::new(System);
        unsafe {
            let x = a.alloc(layout(20, 4));
            x.write_bytes(0xAB, 20);
            a.dealloc(x, layout(20, 4));
            // Another size in the same class (17..=24) gets it back ...
            let y = a.alloc(layout(24, 8));
            assert_eq!(x, y);
            // ... while another class does not.
            let z = a.alloc(layout(32, 8));
            assert_ne!(z, y);
            a.dealloc(y, layout(24, 8));
            a.dealloc(z, layout(32, 8));
        }
    }

    #[test]
    fn reallocation_keeps_the_bytes_across_every_boundary() {
        let a = SmallBlocks::new(System);
        // Grow a buffer one byte at a time from 1 to 1,000 and back, so it
        // stays in a class, changes class, leaves the classes and returns.
        unsafe {
            let mut size = 1;
            let mut p = a.alloc(layout(size, 1));
            p.write(0);
            let sizes = (2..=1000).chain((1..1000).rev());
            for next in sizes {
                p = a.realloc(p, layout(size, 1), next);
                assert!(!p.is_null());
                for i in size..next {
                    p.add(i).write(i as u8);
                }
                let check = size.min(next);
                for i in 1..check {
                    assert_eq!(p.add(i).read(), i as u8, "byte {i} after {size} -> {next}");
                }
                size = next;
            }
            a.dealloc(p, layout(size, 1));
        }
    }

    #[test]
    fn many_live_blocks_are_distinct_and_survive_a_free_and_reuse_cycle() {
        let a = SmallBlocks::new(System);
        unsafe {
            let sizes: Vec<usize> = (0..2000).map(|i| 1 + (i * 37) % 300).collect();
            let mut blocks: Vec<*mut u8> = sizes.iter().map(|&s| a.alloc(layout(s, 1))).collect();
            for round in 0..3u8 {
                for (i, (&p, &s)) in blocks.iter().zip(&sizes).enumerate() {
                    p.write_bytes(round ^ (i as u8), s);
                }
                for (i, (&p, &s)) in blocks.iter().zip(&sizes).enumerate() {
                    let want = round ^ (i as u8);
                    assert!((0..s).all(|k| p.add(k).read() == want), "block {i} was overwritten");
                }
                // Free every other block, then allocate them again.
                for (p, &s) in blocks.iter().zip(&sizes).step_by(2) {
                    a.dealloc(*p, layout(s, 1));
                }
                for (p, &s) in blocks.iter_mut().zip(&sizes).step_by(2) {
                    *p = a.alloc(layout(s, 1));
                }
            }
            for (p, &s) in blocks.iter().zip(&sizes) {
                a.dealloc(*p, layout(s, 1));
            }
        }
    }
}
