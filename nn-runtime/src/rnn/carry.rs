//! [`Carry`]: the recurrent state one batch leaves to the next, for truncated
//! backpropagation through time across batches
//! ([`Trainer::carry_state`](crate::train::Trainer::carry_state)).
//!
//! A long series cut into consecutive chunks is trained chunk by chunk:
//! batch `b + 1`'s sample `j` continues batch `b`'s sample `j`. With carrying
//! on, each recurrent layer of a `seq` network starts a training forward
//! from the state its sample ended the previous training forward with
//! (zeros for a sample the previous batch did not have), instead of from
//! zeros; the gradient stops there (the state is a constant, as PyTorch's
//! `h.detach()`), so backpropagation runs over one chunk. Evaluation
//! (`predict`) always starts from zeros.

use crate::layer::Carry;
use crate::{
    error::ShapeError,
    kernels::Float,
    layer::{Visit, VisitMut},
    model::Model,
};

/// Turns carrying on or off in every recurrent layer of `model` (see the
/// module documentation), clearing what they carry. Returns how many layers
/// carry; [`ShapeError::NoCarry`] names a `bidirectional` layer, whose
/// reverse direction starts from each chunk's end and cannot carry.
pub fn set_carry<T: Float, M: Model<T>>(model: &mut M, on: bool) -> Result<usize, ShapeError> {
    refuse_bidirectional(model)?;
    struct Switch(bool, usize);
    impl<T: Float> VisitMut<T> for Switch {
        fn param(&mut self, _p: crate::layer::ParamMut<'_, T>) {}
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
        fn param(&mut self, _p: crate::layer::ParamMut<'_, T>) {}
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
        fn param(&mut self, _p: crate::layer::ParamRef<'_, T>) {}
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
