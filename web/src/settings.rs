//! What the person chose on the page, read from the JSON the page sends,
//! with an error that names the field for anything out of range.

use nn::{Family, Init, ItemKind};
use serde_json::Value;

/// The element-wise function of every hidden layer, by its `network!` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation(pub ItemKind);

impl Activation {
    /// The functions the page offers.
    pub const ALL: [ItemKind; 14] = [
        ItemKind::Sigmoid,
        ItemKind::Tanh,
        ItemKind::Relu,
        ItemKind::LeakyRelu,
        ItemKind::Elu,
        ItemKind::Selu,
        ItemKind::Gelu,
        ItemKind::Swish,
        ItemKind::Mish,
        ItemKind::Softplus,
        ItemKind::Relu6,
        ItemKind::Hardswish,
        ItemKind::Hardsigmoid,
        ItemKind::Softsign,
    ];

    /// How it behaves, as `network!`'s item table states it (DESIGN.md).
    pub fn family(self) -> Family {
        match self.0 {
            ItemKind::Sigmoid | ItemKind::Hardsigmoid => Family::Saturating { low: 0.0, high: 1.0 },
            ItemKind::Tanh | ItemKind::Softsign => Family::Saturating { low: -1.0, high: 1.0 },
            ItemKind::Selu => Family::SelfNormalizing,
            ItemKind::Softplus => Family::Other,
            _ => Family::Relu,
        }
    }

    /// The initializer `network!` gives a `dense` before this function: He
    /// for the ReLU family, LeCun for `selu`, Xavier for the rest.
    pub fn default_init(self) -> Init {
        match self.family() {
            Family::Relu => Init::HeNormal,
            Family::SelfNormalizing => Init::LecunNormal,
            _ => Init::XavierUniform,
        }
    }
}

/// How each hidden layer is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// `dense, [batch_norm,] act` as three top-level items.
    None,
    /// `residual { dense, [batch_norm,] act }`.
    Residual,
    /// `highway { dense, [batch_norm,] act }`.
    Highway,
}

/// The optimizer and its learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Adam {
        lr: f64,
    },
    /// SGD with momentum 0.9.
    Sgd {
        lr: f64,
    },
}

/// One study: a network to build and how to train it.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Hidden layers of width 64 (1 to 100).
    pub depth: usize,
    pub activation: Activation,
    /// The hidden layers' initializer; `None` picks the activation's default.
    pub init: Option<Init>,
    pub shortcut: Shortcut,
    pub batch_norm: bool,
    /// Clip the global gradient norm to this before every step.
    pub clip: Option<f64>,
    pub optimizer: Optimizer,
    /// Epochs to train (1 to 200).
    pub epochs: usize,
    /// Seeds the weights, dropout and the shuffling.
    pub seed: u64,
}

/// A setting the page sent that the study cannot use.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("setting `{field}`: {problem}")]
pub struct SettingsError {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError { field, problem: problem.into() }
}

impl Settings {
    /// Reads the page's JSON object: `depth`, `activation`, `init` (`"auto"`,
    /// `"xavier_normal"`, `"he_normal"`, `"lecun_normal"`, `"orthogonal"` or
    /// `"small"` for normal(0.01)), `shortcut` (`"none"`, `"residual"`,
    /// `"highway"`), `batch_norm`, `clip` (a number or null), `optimizer`
    /// (`"adam"` or `"sgd"`), `lr`, `epochs`, `seed`.
    pub fn from_json(text: &str) -> Result<Settings, SettingsError> {
        let v: Value = serde_json::from_str(text).map_err(|e| bad("(all)", format!("not JSON: {e}")))?;
        let number =
            |field: &'static str| v.get(field).and_then(Value::as_f64).ok_or_else(|| bad(field, "a number is needed"));
        let text =
            |field: &'static str| v.get(field).and_then(Value::as_str).ok_or_else(|| bad(field, "a name is needed"));
        let whole = |field: &'static str, lo: usize, hi: usize| {
            let n = number(field)?;
            if n.fract() == 0.0 && n >= lo as f64 && n <= hi as f64 {
                Ok(n as usize)
            } else {
                Err(bad(field, format!("a whole number from {lo} to {hi} is needed, found {n}")))
            }
        };
        let activation = text("activation")?;
        let activation = Activation::ALL
            .into_iter()
            .find(|a| a.to_string() == activation)
            .map(Activation)
            .ok_or_else(|| bad("activation", format!("unknown function `{activation}`")))?;
        let init = match text("init")? {
            "auto" => None,
            "xavier_normal" => Some(Init::XavierNormal),
            "he_normal" => Some(Init::HeNormal),
            "lecun_normal" => Some(Init::LecunNormal),
            "orthogonal" => Some(Init::Orthogonal { gain: 1.0 }),
            "small" => Some(Init::Normal(0.01)),
            other => return Err(bad("init", format!("unknown initializer `{other}`"))),
        };
        let shortcut = match text("shortcut")? {
            "none" => Shortcut::None,
            "residual" => Shortcut::Residual,
            "highway" => Shortcut::Highway,
            other => return Err(bad("shortcut", format!("unknown shortcut `{other}`"))),
        };
        let clip = match v.get("clip") {
            None | Some(Value::Null) => None,
            Some(c) => match c.as_f64() {
                Some(c) if c > 0.0 && c.is_finite() => Some(c),
                _ => return Err(bad("clip", format!("a positive number or null is needed, found {c}"))),
            },
        };
        let lr = number("lr")?;
        if !(lr > 0.0 && lr <= 10.0) {
            return Err(bad("lr", format!("a learning rate in (0, 10] is needed, found {lr}")));
        }
        let optimizer = match text("optimizer")? {
            "adam" => Optimizer::Adam { lr },
            "sgd" => Optimizer::Sgd { lr },
            other => return Err(bad("optimizer", format!("unknown optimizer `{other}`"))),
        };
        Ok(Settings {
            depth: whole("depth", 1, 100)?,
            activation,
            init,
            shortcut,
            batch_norm: v
                .get("batch_norm")
                .and_then(Value::as_bool)
                .ok_or_else(|| bad("batch_norm", "true or false is needed"))?,
            clip,
            optimizer,
            epochs: whole("epochs", 1, 200)?,
            seed: whole("seed", 0, u32::MAX as usize)? as u64,
        })
    }

    /// The initializer of the hidden layers.
    pub fn hidden_init(&self) -> Init {
        self.init.unwrap_or(self.activation.default_init())
    }

    /// The network in `network!`'s words, for the page.
    pub fn spelling(&self) -> String {
        let init = match self.init {
            Some(i) => format!(", init = {i}"),
            None => String::new(),
        };
        let bn = if self.batch_norm { "batch_norm, " } else { "" };
        let layer = format!("dense(64{init}), {bn}{}", self.activation.0);
        let block = match self.shortcut {
            Shortcut::None => layer,
            Shortcut::Residual => format!("residual {{ {layer} }}"),
            Shortcut::Highway => format!("highway {{ {layer} }}"),
        };
        format!("(64 -> 10) {{ {} x [{block}], dense(10) }}", self.depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"depth": 20, "activation": "sigmoid", "init": "auto", "shortcut": "none",
        "batch_norm": false, "clip": null, "optimizer": "adam", "lr": 0.003, "epochs": 15, "seed": 1}"#;

    #[test]
    fn reads_the_pages_settings() {
        let s = Settings::from_json(OK).unwrap();
        assert_eq!(
            (s.depth, s.activation, s.init, s.shortcut),
            (20, Activation(ItemKind::Sigmoid), None, Shortcut::None)
        );
        assert_eq!((s.clip, s.optimizer, s.epochs, s.seed), (None, Optimizer::Adam { lr: 0.003 }, 15, 1));
        assert_eq!(s.hidden_init(), Init::XavierUniform);
        assert_eq!(s.spelling(), "(64 -> 10) { 20 x [dense(64), sigmoid], dense(10) }");
    }

    #[test]
    fn every_bad_setting_is_named() {
        let cases = [
            ("\"depth\": 20", "\"depth\": 0", "depth"),
            ("\"depth\": 20", "\"depth\": 2.5", "depth"),
            ("\"activation\": \"sigmoid\"", "\"activation\": \"sigmoyd\"", "activation"),
            ("\"init\": \"auto\"", "\"init\": \"big\"", "init"),
            ("\"shortcut\": \"none\"", "\"shortcut\": \"dense\"", "shortcut"),
            ("\"clip\": null", "\"clip\": -1", "clip"),
            ("\"lr\": 0.003", "\"lr\": 0", "lr"),
            ("\"optimizer\": \"adam\"", "\"optimizer\": \"lbfgs\"", "optimizer"),
            ("\"batch_norm\": false", "\"batch_norm\": 1", "batch_norm"),
        ];
        for (good, bad, field) in cases {
            let err = Settings::from_json(&OK.replace(good, bad)).unwrap_err();
            assert_eq!(err.field, field, "{bad}: {err}");
        }
        assert_eq!(Settings::from_json("[").unwrap_err().field, "(all)");
    }
}
