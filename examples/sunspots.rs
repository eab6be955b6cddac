//! Forecasting the monthly sunspot number (issue 15): an LSTM reads the 48
//! months before a month and forecasts it. It trains on the first 80 % of the
//! months (1749 to May 1957) and is scored on the last 20 % (June 1957 to
//! 2009) by its root mean squared error in sunspot numbers, next to the
//! persistence baseline that forecasts each month as the month before it.
//!
//! It trains the model of `tools/reference/sunspots.py` the way that script
//! does: `nn.LSTM(1, 32)` over the window, its last hidden state into
//! `nn.Linear(32, 1)`, with PyTorch's default initialization; inputs and
//! targets standardized by the training months' mean and standard deviation;
//! MSE; Adam (lr 0.003) in shuffled batches of 32 for 50 epochs, the learning
//! rate annealed to 0 along a cosine over every step. The script chose the
//! window, width, learning rate and epochs on a validation part carved from
//! the end of the training months; the test months are scored once.
//!
//! `cargo run --release --example sunspots`. Measured on 2 cores (AVX-512),
//! f32: see the README's "Sequence examples" for the test RMSE and wall time
//! next to PyTorch's.

use std::ops::Range;
use std::time::Instant;

use nn::data::{sunspots, DataError, Standardizer, Sunspots};
use nn::prelude::*;
use nn::train::TrainError;

#[path = "common/torch.rs"]
mod torch;

nn::network! {
    /// `Forecaster` of `tools/reference/sunspots.py`; 1/sqrt(32) bounds
    /// PyTorch's uniform initialization of the LSTM and the dense weight.
    pub struct Spots(seq 1 -> 1) {
        lstm(32, recurrent_init = uniform(0.17677669529663687)),
        last,
        dense(1, init = uniform(0.17677669529663687)),
    }
}

/// How a run trains: `sunspots.py`'s settings are [`Settings::REFERENCE`].
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Months before the forecast month that the model reads.
    pub window: usize,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    /// Initialization and batch order.
    pub seed: u64,
}

impl Settings {
    /// `tools/reference/sunspots.py`'s WINDOW, EPOCHS, BATCH and LR.
    pub const REFERENCE: Settings = Settings { window: 48, epochs: 50, batch: 32, lr: 0.003, seed: 0 };
}

/// The share of the months, first in time, that train.
pub const TRAIN_FRACTION: f64 = 0.8;

/// Windows before each month of the training and of the test months,
/// standardized by the training months.
pub struct Windows {
    pub train: Dataset<f32>,
    pub test: Dataset<f32>,
    /// Fitted on the training months; its scale turns errors back into sunspot numbers.
    pub scaler: Standardizer<f32>,
}

/// The [`Windows`] of `window` months before each month of `train` and `test`.
pub fn forecast_data(
    spots: &Sunspots,
    window: usize,
    train: Range<usize>,
    test: Range<usize>,
) -> Result<Windows, DataError> {
    let scaler = spots.standardizer(train.clone())?;
    Ok(Windows { train: spots.windows(window, train, &scaler)?, test: spots.windows(window, test, &scaler)?, scaler })
}

/// A [`Spots`] as PyTorch starts one (see `common/torch.rs`).
pub fn forecaster(seed: u64) -> Spots<f32> {
    let mut net = Spots::seeded(seed);
    assert!(torch::redraw(&mut net, "2.bias", torch::linear_bias(32), seed + 1));
    net
}

/// Trains `net` on `data` with `settings` as `sunspots.py` does (MSE).
pub fn train(
    net: &mut Spots<f32>,
    data: &Dataset<f32>,
    settings: Settings,
    progress: Progress,
) -> Result<History, TrainError> {
    let Settings { epochs, batch, lr, seed, .. } = settings;
    torch::trainer(data.len(), epochs, batch, lr, seed).loss(Loss::Mse).progress(progress).fit(net, data, None)
}

/// The RMSE of `net`'s forecasts on `data`, in sunspot numbers.
pub fn rmse(net: &Spots<f32>, data: &Dataset<f32>, scaler: &Standardizer<f32>) -> Result<f64, TrainError> {
    let standardized = evaluate(net, Loss::Mse, data)?.rmse.expect("real targets have an RMSE");
    Ok(standardized * f64::from(scaler.scale()[0]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let spots = sunspots();
    let (train_months, test_months) = spots.split_months(0..spots.len(), TRAIN_FRACTION)?;
    let settings = Settings::REFERENCE;
    let Windows { train: train_set, test: test_set, scaler } =
        forecast_data(&spots, settings.window, train_months.clone(), test_months.clone())?;
    println!(
        "months {train_months:?} train ({} windows of {}), {test_months:?} test; Adam lr {} annealed by a cosine \
         per step, {} epochs, batches of {}",
        train_set.len(),
        settings.window,
        settings.lr,
        settings.epochs,
        settings.batch
    );
    let mut net = forecaster(settings.seed);
    train(&mut net, &train_set, settings, Progress::Auto)?;
    println!("trained in {:.0} s", started.elapsed().as_secs_f64());
    println!(
        "test RMSE {:.2} (persistence {:.2})",
        rmse(&net, &test_set, &scaler)?,
        spots.persistence_rmse(test_months)?
    );
    println!("train RMSE {:.2}", rmse(&net, &train_set, &scaler)?);
    println!("wall time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
