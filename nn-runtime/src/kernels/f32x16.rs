//! What the `f32` kernels written in AVX-512 intrinsics (`pooling.rs`,
//! `im2col.rs`) share: a generic slice seen as `f32`, and 16-lane tables
//! (their masks are `simd::first_16`).

#![cfg(any(target_arch = "x86", target_arch = "x86_64"))]

use std::any::TypeId;

use crate::kernels::Float;

/// `x` as `f32`s, if `T` is `f32`: for kernels written with `f32` intrinsics.
#[inline(always)]
pub(super) fn f32s<T: Float>(x: &[T]) -> Option<&[f32]> {
    // SAFETY: `T` is `f32` (the same type id): the slice is itself.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) })
}

/// [`f32s`] for a slice to write.
#[inline(always)]
pub(super) fn f32s_mut<T: Float>(x: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: as in `f32s`; the borrow moves into the result.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) })
}

/// The 16 lanes `f(0), ..., f(15)`.
#[inline(always)]
pub(super) fn lanes(f: impl Fn(u32) -> u32) -> [u32; 16] {
    std::array::from_fn(|l| f(l as u32))
}
