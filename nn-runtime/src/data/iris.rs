//! Fisher's iris, embedded (see `data/README.md` for the attribution).

use super::{embedded, Csv, Dataset};
use crate::kernels::Float;

static IRIS: &str = include_str!("../../data/iris.csv");

/// Fisher's iris (R. A. Fisher, 1936): 150 flowers, 4 measurements in cm
/// (sepal length, sepal width, petal length, petal width), and the species
/// (0 setosa, 1 versicolor, 2 virginica) as the class; the dataset keeps
/// these names. Feature `datasets` (on by default).
pub fn iris<T: Float>() -> Dataset<T> {
    embedded("iris", &Csv::new().skip_lines(1).classes(3), IRIS)
        .with_class_names(["setosa", "versicolor", "virginica"])
        .and_then(|d| d.with_feature_names(["sepal length", "sepal width", "petal length", "petal width"]))
        .expect("iris has 3 classes and 4 features")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labels;

    #[test]
    fn has_150_flowers_50_per_species() {
        let d = iris::<f64>();
        assert_eq!((d.width(), d.len()), (4, 150));
        assert_eq!(d.inputs().column(0).as_slice(), &[5.1, 3.5, 1.4, 0.2]);
        assert_eq!(d.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
        assert_eq!(d.feature_names().unwrap()[3], "petal width");
        let Labels::Classes { indices, count: 3 } = d.labels() else { panic!("iris has 3 classes") };
        for c in 0..3 {
            assert_eq!(indices.iter().filter(|&&k| k == c).count(), 50);
        }
    }
}
