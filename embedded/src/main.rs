//! Ten test digits through a network that `nn` trained and exported to plain
//! Rust (`digit_net.rs`: static weights and a `predict` function, no `nn`, no
//! `std`, no heap), on a Cortex-M4F: the MPS2-AN386 board, which
//! `qemu-system-arm -machine mps2-an386` models (`cargo run --release`).
//!
//! It prints each digit's predicted class beside the class `nn` predicted on
//! the host when it exported the network (`samples.rs`), then the most stack
//! the run used, and exits QEMU with a failure status if any class differs.
#![no_std]
#![no_main]

mod digit_net;
mod samples;

use core::panic::PanicInfo;

// Linked for its critical section (feature `critical-section-single-core`), which semihosting output takes.
use cortex_m as _;
use cortex_m_rt::{entry, STACK_PAINT_VALUE};
use cortex_m_semihosting::{debug, hprintln};

#[entry]
fn main() -> ! {
    let mut agree = true;
    for (i, x) in samples::DIGITS.iter().enumerate() {
        let class = argmax(&digit_net::predict(x));
        let host = samples::HOST_CLASSES[i];
        hprintln!("digit {i}: label {}, predicted {class}, host {host}", samples::LABELS[i]);
        agree &= class == usize::from(host);
    }
    hprintln!("stack: {} bytes at most", stack_used());
    hprintln!("{}", if agree { "same classes as the host" } else { "classes differ from the host" });
    debug::exit(if agree { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {}
}

/// The index of the largest output (the first, on a tie), as `argmax` on the host.
fn argmax(y: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in y.iter().enumerate() {
        if *v > y[best] {
            best = i;
        }
    }
    best
}

/// How deep the stack has reached since reset: cortex-m-rt's `paint-stack`
/// filled it with `STACK_PAINT_VALUE` before `main`, so the lowest word that
/// no longer holds the paint marks the deepest point.
fn stack_used() -> usize {
    extern "C" {
        // From cortex-m-rt's link.x: the stack grows down from `_stack_start` to at most `_stack_end`.
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let (top, bottom) = (&raw const _stack_start as usize, &raw const _stack_end as usize);
    let mut p = bottom;
    // SAFETY: every word in `bottom..top` is stack RAM (linker script), readable
    // and aligned; reads are volatile so they are not folded with the paint.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == STACK_PAINT_VALUE {
        p += 4;
    }
    top - p
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("{info}");
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
