//! Collects errors with the tokens they blame, so one build reports every
//! mistake rather than the first.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;

/// An error collector. It must be consumed with [`Ctxt::check`]; dropping one
/// unchecked is a bug in the macro (errors would be lost), so it panics.
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub fn new() -> Self {
        Ctxt { errors: RefCell::new(Some(Vec::new())) }
    }

    /// Records an error at `span`.
    pub fn error(&self, span: Span, message: impl Display) {
        self.errors.borrow_mut().as_mut().expect("Ctxt used after check").push(syn::Error::new(span, message));
    }

    /// Consumes the collector: all errors combined into one, if there were any.
    pub fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        let mut errors = errors.into_iter();
        let Some(mut first) = errors.next() else { return Ok(()) };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("nn-macros: Ctxt dropped without check()");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_combines_every_error_in_order() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "first");
        cx.error(Span::call_site(), "second");
        let messages: Vec<String> = cx.check().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn check_without_errors_is_ok() {
        assert!(Ctxt::new().check().is_ok());
    }
}
