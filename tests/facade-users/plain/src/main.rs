//! The facade as a plain dependency: its library is imported as `nn`.

#[macro_use]
#[path = "../../program.rs"]
mod program;

program!(nn);
