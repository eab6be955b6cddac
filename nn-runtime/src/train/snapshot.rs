//! Copies of a model's state, taken and put back through `visit`/`visit_mut`
//! (best weights for early stopping, buffers from before a failed step).

use crate::{BufferMut, BufferRef, Float, Model, ParamMut, ParamRef, Visit, VisitMut};

/// Parameter values (optionally) and buffers, flattened in visiting order.
/// Taking a snapshot again reuses the storage, so it allocates nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot<T> {
    with_params: bool,
    params: Vec<T>,
    floats: Vec<T>,
    counts: Vec<i64>,
}

impl<T: Float> Snapshot<T> {
    pub(crate) fn new(with_params: bool) -> Self {
        Self { with_params, params: Vec::new(), floats: Vec::new(), counts: Vec::new() }
    }

    pub(crate) fn capture<M: Model<T>>(&mut self, model: &M) {
        self.params.clear();
        self.floats.clear();
        self.counts.clear();
        model.visit(self);
    }

    pub(crate) fn restore<M: Model<T>>(&self, model: &mut M) {
        model.visit_mut(&mut Restore { from: self, params: 0, floats: 0, counts: 0 });
    }
}

impl<T: Float> Visit<T> for Snapshot<T> {
    fn param(&mut self, p: ParamRef<'_, T>) {
        if self.with_params {
            self.params.extend_from_slice(p.value);
        }
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        match b {
            BufferRef::Float { value, .. } => self.floats.extend_from_slice(value),
            BufferRef::Count { value, .. } => self.counts.push(value),
        }
    }
}

struct Restore<'a, T> {
    from: &'a Snapshot<T>,
    params: usize,
    floats: usize,
    counts: usize,
}

impl<T: Float> VisitMut<T> for Restore<'_, T> {
    fn param(&mut self, p: ParamMut<'_, T>) {
        if self.from.with_params {
            let n = p.value.len();
            p.value.copy_from_slice(&self.from.params[self.params..self.params + n]);
            self.params += n;
        }
    }
    fn buffer(&mut self, b: BufferMut<'_, T>) {
        match b {
            BufferMut::Float { value, .. } => {
                let n = value.len();
                value.copy_from_slice(&self.from.floats[self.floats..self.floats + n]);
                self.floats += n;
            }
            BufferMut::Count { value, .. } => {
                *value = self.from.counts[self.counts];
                self.counts += 1;
            }
        }
    }
}
