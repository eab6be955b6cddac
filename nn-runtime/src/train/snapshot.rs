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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{empty, ParamKind};
    use crate::testing::LayerModel;
    use crate::{Batch, Layer};

    /// Identity with a parameter, a float buffer and a counter that forward changes.
    struct Stateful {
        w: Vec<f64>,
        g: Vec<f64>,
        running: Vec<f64>,
        count: i64,
        y: Batch<f64, 2>,
    }

    impl Layer<f64, 2, 2> for Stateful {
        fn forward(&mut self, x: &Batch<f64, 2>) -> &Batch<f64, 2> {
            self.running[0] += x.sum();
            self.count += 1;
            self.y = x.clone();
            &self.y
        }
        fn backward(&mut self, g: &Batch<f64, 2>) -> &Batch<f64, 2> {
            self.y = g.clone();
            &self.y
        }
        fn predict(&self, x: &Batch<f64, 2>) -> Batch<f64, 2> {
            x.clone()
        }
        fn visit(&self, v: &mut dyn Visit<f64>) {
            v.param(ParamRef { name: "w", kind: ParamKind::Weight, shape: &[2], value: &self.w, grad: &self.g });
            v.buffer(BufferRef::Float { name: "running", shape: &[1], value: &self.running });
            v.buffer(BufferRef::Count { name: "count", value: self.count });
        }
        fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
            v.param(ParamMut {
                name: "w",
                kind: ParamKind::Weight,
                shape: &[2],
                value: &mut self.w,
                grad: &mut self.g,
            });
            v.buffer(BufferMut::Float { name: "running", shape: &[1], value: &mut self.running });
            v.buffer(BufferMut::Count { name: "count", value: &mut self.count });
        }
    }

    #[test]
    fn restores_parameters_and_buffers_or_buffers_only() {
        let layer = Stateful { w: vec![1.0, 2.0], g: vec![0.0; 2], running: vec![0.5], count: 3, y: empty() };
        let mut m = LayerModel::new(layer);
        let (mut all, mut buffers) = (Snapshot::new(true), Snapshot::new(false));
        all.capture(&m);
        buffers.capture(&m);
        m.forward_view(nalgebra::DMatrix::from_element(2, 1, 1.0).as_view()).unwrap();
        m.layer.w[1] = 7.0;
        buffers.restore(&mut m);
        assert_eq!((m.layer.w.as_slice(), m.layer.running[0], m.layer.count), (&[1.0, 7.0][..], 0.5, 3));
        m.forward_view(nalgebra::DMatrix::from_element(2, 1, 1.0).as_view()).unwrap();
        all.restore(&mut m);
        assert_eq!((m.layer.w.as_slice(), m.layer.running[0], m.layer.count), (&[1.0, 2.0][..], 0.5, 3));
    }
}
