//! [`Carry`]: the recurrent state one batch leaves to the next, for truncated
//! backpropagation through time across batches
//! ([`Trainer::carry_state`](crate::Trainer::carry_state)).
//!
//! A long series cut into consecutive chunks is trained chunk by chunk:
//! batch `b + 1`'s sample `j` continues batch `b`'s sample `j`. With carrying
//! on, each recurrent layer of a `seq` network starts a training forward
//! from the state its sample ended the previous training forward with
//! (zeros for a sample the previous batch did not have), instead of from
//! zeros; the gradient stops there (the state is a constant, as PyTorch's
//! `h.detach()`), so backpropagation runs over one chunk. Evaluation
//! (`predict`) always starts from zeros.

use crate::{Float, Model, ShapeError, Visit, VisitMut};

/// One recurrent layer's carried state: off, or on with the state of the
/// samples of the last training forward, `[parts, samples, hidden]`
/// row-major (PyTorch's `h_n` layout; parts `h`, or `h, c` for an LSTM).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carry<T> {
    on: bool,
    parts: usize,
    hidden: usize,
    samples: usize,
    values: Vec<T>,
}

impl<T: Float> Carry<T> {
    /// Off, for a layer with `parts` states of `hidden` values.
    pub(crate) fn new(parts: usize, hidden: usize) -> Self {
        Self { on: false, parts, hidden, samples: 0, values: Vec::new() }
    }

    /// Whether training forwards start from the carried state.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Turns carrying on or off; either way the next training forward
    /// starts from zeros.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
        self.clear();
    }

    /// Forgets the carried state: the next training forward starts from
    /// zeros (a new epoch, a new series).
    pub fn clear(&mut self) {
        self.samples = 0;
        self.values.clear();
    }

    /// `[parts, samples, hidden]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.parts, self.samples, self.hidden]
    }

    /// The carried values, as [`Carry::shape`] says.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Puts a state back (a resumed run): `values` of `samples` samples, as
    /// [`Carry::values`] lays them out.
    pub fn set(&mut self, samples: usize, values: &[T]) -> Result<(), ShapeError> {
        let expected = self.parts * samples * self.hidden;
        if values.len() != expected {
            return Err(ShapeError::CarryLen { expected, found: values.len() });
        }
        self.samples = samples;
        self.values.clear();
        self.values.extend_from_slice(values);
        Ok(())
    }

    /// Writes the carried state of the caller's samples `order[k]` into
    /// column `k` of each part's initial state (`states[p]`, `hidden` rows);
    /// samples the last forward did not have stay as they are (zeros).
    pub(crate) fn start(&self, states: [&mut [T]; 2], order: &[usize]) {
        for (p, state) in states.into_iter().take(self.parts).enumerate() {
            for (column, &j) in state.chunks_exact_mut(self.hidden).zip(order) {
                if j < self.samples {
                    column.copy_from_slice(self.at(p, j));
                }
            }
        }
    }

    /// Keeps the final state of a training forward: `last(p, k)` is part
    /// `p`'s state after packed sequence `k`, the caller's sample `order[k]`.
    /// Allocates only beyond the largest batch seen.
    pub(crate) fn keep<'a>(&mut self, order: &[usize], last: impl Fn(usize, usize) -> &'a [T])
    where
        T: 'a,
    {
        self.samples = order.len();
        self.values.resize(self.parts * self.samples * self.hidden, T::zero());
        for p in 0..self.parts {
            for (k, &j) in order.iter().enumerate() {
                let at = (p * self.samples + j) * self.hidden;
                self.values[at..at + self.hidden].copy_from_slice(last(p, k));
            }
        }
    }

    fn at(&self, part: usize, sample: usize) -> &[T] {
        let at = (part * self.samples + sample) * self.hidden;
        &self.values[at..at + self.hidden]
    }
}

/// Turns carrying on or off in every recurrent layer of `model` (see the
/// module documentation), clearing what they carry. Returns how many layers
/// carry; [`ShapeError::NoCarry`] names a `bidirectional` layer, whose
/// reverse direction starts from each chunk's end and cannot carry.
pub fn set_carry<T: Float, M: Model<T>>(model: &mut M, on: bool) -> Result<usize, ShapeError> {
    refuse_bidirectional(model)?;
    struct Switch(bool, usize);
    impl<T: Float> VisitMut<T> for Switch {
        fn param(&mut self, _p: crate::ParamMut<'_, T>) {}
        fn carry(&mut self, _name: &str, carry: Option<&mut Carry<T>>) {
            if let Some(c) = carry {
                c.set_on(self.0);
                self.1 += 1;
            }
        }
    }
    let mut switch = Switch(on, 0);
    model.visit_mut(&mut switch);
    Ok(switch.1)
}

/// Forgets what every recurrent layer of `model` carries ([`Carry::clear`]).
pub fn clear_carry<T: Float, M: Model<T>>(model: &mut M) {
    struct Clear;
    impl<T: Float> VisitMut<T> for Clear {
        fn param(&mut self, _p: crate::ParamMut<'_, T>) {}
        fn carry(&mut self, _name: &str, carry: Option<&mut Carry<T>>) {
            if let Some(c) = carry {
                c.clear();
            }
        }
    }
    model.visit_mut(&mut Clear);
}

fn refuse_bidirectional<T: Float, M: Model<T>>(model: &M) -> Result<(), ShapeError> {
    struct Find(crate::layer::NamePath, Option<String>);
    impl<T: Float> Visit<T> for Find {
        fn enter(&mut self, segment: &str) {
            self.0.enter(segment);
        }
        fn leave(&mut self) {
            self.0.leave();
        }
        fn param(&mut self, _p: crate::ParamRef<'_, T>) {}
        fn carry(&mut self, _name: &str, carry: Option<&Carry<T>>) {
            if carry.is_none() && self.1.is_none() {
                self.1 = Some(self.0.full("").trim_end_matches('.').to_string());
            }
        }
    }
    let mut find = Find(Default::default(), None);
    model.visit(&mut find);
    match find.1 {
        Some(item) => Err(ShapeError::NoCarry { item }),
        None => Ok(()),
    }
}
