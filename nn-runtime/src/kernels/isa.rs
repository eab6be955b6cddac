//! Which vector instructions the kernels use, and the one place that picks
//! the compiled variant of every kernel.
//!
//! The library cannot assume `target-cpu=native`. So each kernel is written
//! once, generic over a [`Level`] (an instruction set as a type), and
//! [`dispatch`] compiles it once per level: inlined into a wrapper whose
//! `#[target_feature]` lets the compiler use that level's instructions. At run
//! time it calls the variant of the level [`isa`] names.
//!
//! A value of a vector level (`level::Avx512`, `level::Avx2Fma`,
//! `level::Neon`) exists only where this CPU runs its instructions: [`dispatch`]
//! is the only code that makes one. Code holding one may call that level's
//! intrinsics; that is the argument behind the `SAFETY` comments of the vector
//! kernels.

use std::cell::Cell;
use std::sync::OnceLock;

use super::MatRef;
use crate::kernels::Float;

/// The instruction sets the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isa {
    /// x86: AVX-512F (with AVX2 and FMA): 16 `f32` per register.
    Avx512,
    /// x86: AVX2 with FMA: 8 `f32` per register.
    Avx2Fma,
    /// ARM (aarch64): NEON with its fused multiply-add: 4 `f32` per register.
    Neon,
    /// Whatever the build targets (SSE2 on a default x86-64 build, NEON on
    /// aarch64), written as plain loops, multiplying and adding separately.
    Portable,
}

impl Isa {
    /// Every instruction set, widest first.
    pub const ALL: &'static [Isa] = &[Isa::Avx512, Isa::Avx2Fma, Isa::Neon, Isa::Portable];

    /// Whether this CPU can run the kernels compiled for `self`.
    pub fn available(self) -> bool {
        match (self, detect()) {
            (Isa::Portable, _) | (Isa::Avx2Fma, Isa::Avx2Fma | Isa::Avx512) => true,
            (wanted, detected) => wanted == detected,
        }
    }
}

thread_local! {
    /// Set by [`with_isa`] for the duration of its closure.
    static SCOPED: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// The instruction set `nn`'s kernels use on this thread: the matrix
/// products and matrix-vector products, the `f32` sigmoid and tanh, and the
/// recurrent cells' element-wise steps.
///
/// The widest this CPU has, detected once. `NN_ISA=avx512|avx2|neon|portable`
/// (or its older spelling `NN_GEMV_ISA`) caps it for the whole process, for
/// benchmarks and for testing every path on one machine. A value the CPU
/// cannot run is ignored. [`with_isa`] sets it for one closure on one thread.
pub fn isa() -> Isa {
    SCOPED.get().unwrap_or_else(for_process)
}

/// Runs `f` with the kernels of this thread on `isa`, then restores the
/// previous choice (also when `f` panics): for tests that compare every path
/// in one process. A product that is split over several threads
/// ([`threads`](super::threads)) runs every part on `isa`: the kernel is
/// chosen on this thread, before the split.
///
/// Panics if this CPU cannot run `isa` ([`Isa::available`]).
pub fn with_isa<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    assert!(isa.available(), "{isa:?} kernels requested on a CPU without them");
    super::scoped(&SCOPED, Some(isa), f)
}

/// The process-wide choice: detected, capped by the environment, read once.
fn for_process() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let cap = std::env::var("NN_ISA").or_else(|_| std::env::var("NN_GEMV_ISA"));
        match cap.as_deref() {
            Ok("portable") => Isa::Portable,
            Ok("avx2") if Isa::Avx2Fma.available() => Isa::Avx2Fma,
            _ => detect(),
        }
    })
}

/// The widest instruction set of this CPU (detected once by the standard library).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn detect() -> Isa {
    let avx2_fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    if avx2_fma && is_x86_feature_detected!("avx512f") {
        Isa::Avx512
    } else if avx2_fma {
        Isa::Avx2Fma
    } else {
        Isa::Portable
    }
}

/// NEON is part of every aarch64 CPU (the Rust target enables it by default).
#[cfg(target_arch = "aarch64")]
fn detect() -> Isa {
    Isa::Neon
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
fn detect() -> Isa {
    Isa::Portable
}

/// An instruction set as a type, for kernels written once for all of them,
/// and the vector kernels it offers them. A value of a vector level proves
/// that this CPU runs its instructions (see the module docs).
pub trait Level: Copy + Send + Sync {
    /// The instruction set this level is.
    const ISA: Isa;
    /// Whether `mul_add` is one instruction here (without FMA it is a slow
    /// library call, so the portable loops multiply and add).
    const FMA: bool;
    /// This level's vector register of `T`s.
    type Reg<T: Float>: Vector<Elem = T, Token = Self>;
    /// Runs `kernel` compiled for this level: for code that calls a kernel
    /// through a function pointer (a part of a product on another thread),
    /// which the wrapper around its caller does not reach.
    fn run<K: Kernel>(self, kernel: K) -> K::Output;
    /// Four dot products with the same `x`, where this level has a kernel
    /// for them for `T`.
    #[inline(always)]
    fn dot4<T: Float>(self, _rows: [&[T]; 4], _x: &[T]) -> Option<[T; 4]> {
        None
    }
    /// `dst = src` laid out column-major (column stride `ld`) with this
    /// level's register kernel for `T`; `false`, with `dst` untouched, where
    /// there is none.
    #[inline(always)]
    fn transpose<T: Float>(self, _src: MatRef<'_, T>, _dst: &mut [T], _ld: usize) -> bool {
        false
    }
}

/// A vector register of [`Vector::LANES`] `Elem`s and the operations the
/// kernels use on it.
///
/// Every method is `unsafe`: it needs the CPU features that a value of
/// [`Vector::Token`] proves present, and callers hold one. Pointers must
/// point to as many elements as the method reads or writes.
pub trait Vector: Copy {
    type Elem: Float;
    /// The level whose instructions these are.
    type Token: Level;
    const LANES: usize;
    /// Registers down each column of the result in one tile of the matrix
    /// product (its rows: `TILE_REGS * LANES`), at most [`MAX_TILE_REGS`].
    const TILE_REGS: usize;
    /// Columns of the result one tile of the matrix product keeps in
    /// registers, at most [`MAX_TILE_COLS`]. `TILE_REGS * TILE_COLS`
    /// accumulators, `TILE_REGS` registers of `A` and one of `B` fit the
    /// level's register file.
    const TILE_COLS: usize;
    /// Which of the first lanes a masked load or store touches.
    type Mask: Copy;
    /// The first `len` lanes (`len <= LANES`).
    unsafe fn mask(len: usize) -> Self::Mask;
    /// All lanes zero.
    unsafe fn zero() -> Self;
    /// All lanes `x`.
    unsafe fn splat(x: Self::Elem) -> Self;
    /// `LANES` elements from `p`.
    unsafe fn load(p: *const Self::Elem) -> Self;
    /// The lanes of `mask` from `p`, zeros in the others, reading no memory
    /// past them.
    unsafe fn load_masked(p: *const Self::Elem, mask: Self::Mask) -> Self;
    /// `LANES` elements to `p`.
    unsafe fn store(p: *mut Self::Elem, v: Self);
    /// The lanes of `mask` to `p`, writing no memory past them.
    unsafe fn store_masked(p: *mut Self::Elem, mask: Self::Mask, v: Self);
    /// `a * b + acc`: rounded once where the level has FMA.
    unsafe fn fmadd(a: Self, b: Self, acc: Self) -> Self;
    unsafe fn mul(a: Self, b: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    /// The sum of the lanes.
    unsafe fn sum(self) -> Self::Elem;
}

/// The most registers down a column of a product tile on any level.
pub const MAX_TILE_REGS: usize = 4;
/// The most columns a product tile has on any level.
pub const MAX_TILE_COLS: usize = 8;

/// The levels, one type each.
pub mod level {
    use super::{Isa, Kernel, Level};
    use crate::kernels::Float;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    use crate::kernels::MatRef;

    /// The baseline of the build: plain loops the compiler vectorizes as far as it may.
    #[derive(Clone, Copy, Debug)]
    pub struct Portable;

    impl Level for Portable {
        const ISA: Isa = Isa::Portable;
        const FMA: bool = false;
        type Reg<T: Float> = T::Portable;
        #[inline(always)]
        fn run<K: Kernel>(self, kernel: K) -> K::Output {
            kernel.run(self)
        }
    }

    /// AVX2 and FMA are present.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[derive(Clone, Copy, Debug)]
    pub struct Avx2Fma(());

    /// AVX-512F, AVX2 and FMA are present.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[derive(Clone, Copy, Debug)]
    pub struct Avx512(());

    /// NEON is present (on every aarch64 CPU).
    #[cfg(target_arch = "aarch64")]
    #[derive(Clone, Copy, Debug)]
    pub struct Neon(());

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    impl Avx2Fma {
        /// # Safety
        /// This CPU must have AVX2 and FMA.
        pub(super) unsafe fn new() -> Self {
            Self(())
        }
    }

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    impl Avx512 {
        /// # Safety
        /// This CPU must have AVX-512F, AVX2 and FMA.
        pub(super) unsafe fn new() -> Self {
            Self(())
        }
    }

    #[cfg(target_arch = "aarch64")]
    impl Neon {
        /// # Safety
        /// This CPU must have NEON.
        pub(super) unsafe fn new() -> Self {
            Self(())
        }
    }

    /// 8 `f32` per register.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    impl Level for Avx2Fma {
        const ISA: Isa = Isa::Avx2Fma;
        const FMA: bool = true;
        type Reg<T: Float> = T::Avx2;
        #[inline(always)]
        fn run<K: Kernel>(self, kernel: K) -> K::Output {
            // SAFETY: the token shows AVX2 and FMA are present.
            unsafe { super::on_avx2(kernel, self) }
        }
        #[inline(always)]
        fn transpose<T: Float>(self, src: MatRef<'_, T>, dst: &mut [T], ld: usize) -> bool {
            T::transpose_avx2(self, src, dst, ld)
        }
    }

    /// 16 `f32` per register, masked loads for remainders, four dot products
    /// at a time and a 16x16 transpose in registers.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    impl Level for Avx512 {
        const ISA: Isa = Isa::Avx512;
        const FMA: bool = true;
        type Reg<T: Float> = T::Avx512;
        #[inline(always)]
        fn run<K: Kernel>(self, kernel: K) -> K::Output {
            // SAFETY: the token shows AVX-512F, AVX2 and FMA are present.
            unsafe { super::on_avx512(kernel, self) }
        }
        #[inline(always)]
        fn dot4<T: Float>(self, rows: [&[T]; 4], x: &[T]) -> Option<[T; 4]> {
            T::dot4(self, rows, x)
        }
        #[inline(always)]
        fn transpose<T: Float>(self, src: MatRef<'_, T>, dst: &mut [T], ld: usize) -> bool {
            T::transpose_avx512(self, src, dst, ld)
        }
    }

    /// 4 `f32` per register, with fused multiply-adds.
    #[cfg(target_arch = "aarch64")]
    impl Level for Neon {
        const ISA: Isa = Isa::Neon;
        const FMA: bool = true;
        type Reg<T: Float> = T::Neon;
        #[inline(always)]
        fn run<K: Kernel>(self, kernel: K) -> K::Output {
            // SAFETY: the token shows NEON is present.
            unsafe { super::on_neon(kernel, self) }
        }
    }
}

/// A kernel written once for every [`Level`]; [`dispatch`] runs it.
pub trait Kernel {
    type Output;
    /// The kernel on `level`. Implementations are `#[inline(always)]`, so that
    /// each level's wrapper compiles its own copy with its own instructions
    /// instead of calling one compiled for the baseline.
    fn run<L: Level>(self, level: L) -> Self::Output;
}

/// Runs `kernel` compiled for the instruction set [`isa`] names.
pub fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    match isa() {
        // SAFETY: `isa` names only instruction sets this CPU has: `detect`'s
        // answer, or one that `for_process` and `with_isa` checked is available.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx512 => unsafe { level::Avx512::new() }.run(kernel),
        // SAFETY: as above.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2Fma => unsafe { level::Avx2Fma::new() }.run(kernel),
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { level::Neon::new() }.run(kernel),
        _ => level::Portable.run(kernel),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f,avx2,fma")]
fn on_avx512<K: Kernel>(kernel: K, level: level::Avx512) -> K::Output {
    kernel.run(level)
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
fn on_avx2<K: Kernel>(kernel: K, level: level::Avx2Fma) -> K::Output {
    kernel.run(level)
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
fn on_neon<K: Kernel>(kernel: K, level: level::Neon) -> K::Output {
    kernel.run(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names the level it was compiled for.
    struct Which;

    impl Kernel for Which {
        type Output = Isa;
        fn run<L: Level>(self, _: L) -> Isa {
            L::ISA
        }
    }

    #[test]
    fn the_detected_isa_is_available() {
        assert!(isa().available());
        assert!(Isa::Portable.available());
        assert_eq!(dispatch(Which), isa());
    }

    /// NEON is part of every aarch64 CPU, so the tests that run "every
    /// available instruction set" run it there (under qemu in CI).
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn neon_is_available_on_aarch64() {
        assert!(Isa::Neon.available());
    }

    #[test]
    fn with_isa_runs_that_variant_and_restores_the_previous_choice() {
        let before = isa();
        let mut ran = 0;
        for &wanted in Isa::ALL.iter().filter(|i| i.available()) {
            let got = with_isa(wanted, || {
                assert_eq!(isa(), wanted);
                // Nested: the inner choice holds inside, the outer one after it.
                assert_eq!(with_isa(Isa::Portable, || dispatch(Which)), Isa::Portable);
                assert_eq!(isa(), wanted);
                dispatch(Which)
            });
            assert_eq!(got, wanted);
            assert_eq!(isa(), before);
            ran += 1;
        }
        assert!(ran >= 1);
        // A panic inside does not leave the choice behind.
        assert!(std::panic::catch_unwind(|| with_isa(Isa::Portable, || panic!("inside"))).is_err());
        assert_eq!(isa(), before);
    }
}
