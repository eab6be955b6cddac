//! The vanishing-gradient study of `nn` as a web page: the person picks a
//! network, the digits train in a Web Worker in WebAssembly, and the page
//! plots the loss, the test accuracy and the gradient norm reaching every
//! layer, with `GradientFlow`'s verdict and remedies in words.
//!
//! The networks are built at run time from the runtime's layers and blocks
//! ([`stack`]), not with `network!`: the page's combinations could not each
//! be compiled in. `web/build.sh` builds the page into `web/dist`; the
//! README's Deploy section says how to serve it.

pub mod settings;
pub mod stack;
pub mod study;

use wasm_bindgen::prelude::*;

/// A study, driven from JavaScript: `new Study(settingsJson)`, then `start()`
/// and `epoch()` as many times as the settings' epochs, each returning JSON.
#[wasm_bindgen]
pub struct Study(study::Study);

#[wasm_bindgen]
impl Study {
    #[wasm_bindgen(constructor)]
    pub fn new(settings: &str) -> Result<Study, JsError> {
        study::Study::new(settings).map(Study).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The network in words and its gradient flow at initialization.
    pub fn start(&mut self) -> Result<String, JsError> {
        self.0.start().map(|v| v.to_string()).map_err(|e| JsError::new(&e.to_string()))
    }

    /// One more epoch: its statistics and the gradient flow after it.
    pub fn epoch(&mut self) -> Result<String, JsError> {
        self.0.epoch().map(|v| v.to_string()).map_err(|e| JsError::new(&e.to_string()))
    }
}
