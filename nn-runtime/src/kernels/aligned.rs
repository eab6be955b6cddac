//! [`Aligned`]: a fixed-length heap array whose first element starts a
//! cache line.
//!
//! A `Vec`'s buffer is only as aligned as its element (and the allocator
//! gives large ones 16 bytes past a page), so every 32- or 64-byte vector
//! load from a weight row straddled two cache lines, and a one-sample
//! product, which streams its weights from L3, ran about 20 % below the
//! machine's bandwidth. Weights and gradients live in this instead.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The alignment of every [`Aligned`] buffer: one cache line, the width of
/// an AVX-512 register.
const ALIGN: usize = 64;

/// A heap array of `len` values of `T` starting at a 64-byte boundary, for
/// the `Copy` numbers `nn` computes in: dropping it frees the buffer and
/// drops no element.
pub struct Aligned<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: `Aligned` owns its buffer as a `Vec` would; sending or sharing it
// is sending or sharing `T`s.
unsafe impl<T: Send> Send for Aligned<T> {}
// SAFETY: as above; `&Aligned` only gives `&[T]`.
unsafe impl<T: Sync> Sync for Aligned<T> {}

impl<T> Aligned<T> {
    fn layout(len: usize) -> Layout {
        Layout::from_size_align(
            len.checked_mul(size_of::<T>()).expect("Aligned: size overflows"),
            ALIGN.max(align_of::<T>()),
        )
        .expect("Aligned: size overflows")
    }
}

impl<T: Clone> Aligned<T> {
    /// A copy of `values`.
    pub fn from_slice(values: &[T]) -> Self {
        let len = values.len();
        if len == 0 || size_of::<T>() == 0 {
            return Self { ptr: NonNull::dangling(), len };
        }
        let layout = Self::layout(len);
        // SAFETY: `layout` has a non-zero size (len > 0, T not zero-sized).
        let raw = unsafe { alloc::alloc(layout) }.cast::<T>();
        let Some(ptr) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
        for (i, v) in values.iter().enumerate() {
            // SAFETY: `ptr` is a fresh allocation of `len` `T`s and `i < len`.
            // (Were `clone` to panic, the buffer would leak, not be read.)
            unsafe { ptr.as_ptr().add(i).write(v.clone()) };
        }
        Self { ptr, len }
    }
}

impl<T> Aligned<T> {
    /// The values, as `Vec::as_slice`.
    pub fn as_slice(&self) -> &[T] {
        self
    }

    /// The values, as `Vec::as_mut_slice`.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
}

/// `len` elements of `buf` from its first cache-line start, for a reused
/// scratch buffer (a `Vec` is only 16-byte aligned); a `buf` too short grows,
/// to hold at least `grow_to` elements after the line start. Where the slice
/// starts moves no value, so results computed in it do not depend on the
/// address.
pub(crate) fn from_line_start<T: Copy + Default>(buf: &mut Vec<T>, len: usize, grow_to: usize) -> &mut [T] {
    let slack = ALIGN / size_of::<T>().max(1);
    if buf.len() < len + slack {
        buf.resize(len.max(grow_to) + slack, T::default());
    }
    let start = buf.as_ptr().align_offset(ALIGN).min(slack);
    &mut buf[start..start + len]
}

impl<T> Drop for Aligned<T> {
    fn drop(&mut self) {
        if self.len > 0 && size_of::<T>() > 0 {
            // SAFETY: allocated in `from_slice` with this very layout.
            unsafe { alloc::dealloc(self.ptr.as_ptr().cast(), Self::layout(self.len)) }
        }
    }
}

impl<T> Deref for Aligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialized `T`s (or is dangling with
        // `len == 0`, which a slice allows), owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Clone> Clone for Aligned<T> {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl<'a, T> IntoIterator for &'a Aligned<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Aligned<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: fmt::Debug> fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Clone> From<Vec<T>> for Aligned<T> {
    fn from(values: Vec<T>) -> Self {
        Self::from_slice(&values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_buffer_starts_a_cache_line_and_keeps_its_values() {
        for len in [0, 1, 3, 16, 1000, 401_408] {
            let values: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let a = Aligned::from(values.clone());
            assert_eq!(&*a, &values[..]);
            assert_eq!(a.as_ptr() as usize % ALIGN, if len == 0 { a.as_ptr() as usize % ALIGN } else { 0 });
            let mut b = a.clone();
            b.iter_mut().for_each(|v| *v += 1.0);
            assert_eq!(&*a, &values[..], "a clone is its own buffer");
            assert!(b.iter().zip(&values).all(|(b, v)| *b == v + 1.0));
        }
    }
}
