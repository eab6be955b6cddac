//! The facade renamed in Cargo.toml (`neural = { package = "nn-static" }`):
//! the generated code must reach the runtime through `neural`, as there is
//! no `nn` in this crate.

#[macro_use]
#[path = "../../program.rs"]
mod program;

program!(neural);
