//! The `.npz` file format: numpy's `np.savez` archive of the raw spike-time arrays (see
//! `docs/formats.md`, "Spike data").

use std::io::{Cursor, Read};
use std::path::Path;

use npyz::npz::{NpzArchive, NpzWriter};
use npyz::zip::CompressionMethod;
use npyz::zip::result::ZipError;
use npyz::zip::write::FileOptions;
use npyz::{DType, NpyFile, WriterBuilder};

use crate::error::DataError;
use crate::files::{read_bytes, write_atomic};
use crate::json::infer_num_neurons;
use crate::spike_data::SpikeData;
use crate::spike_times::SpikeTimes;

/// The most bytes one `.npy` member may unpack to (1 GiB: 134 million float64 spike times).
/// Deflate packs zeros a thousandfold, so a small file could otherwise ask for any amount of
/// memory before its arrays are checked.
const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// Which shapes an array may have.
#[derive(Clone, Copy)]
enum Shape {
    /// One dimension, any length.
    Vector,
    /// A scalar: shape `()` or `(1,)`.
    Scalar,
}

/// Reads `.npz` arrays, naming the file in every error.
struct Reader<'a> {
    archive: NpzArchive<Cursor<&'a [u8]>>,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn malformed(&self, reason: String) -> DataError {
        DataError::Malformed {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn schema(&self, reason: String) -> DataError {
        DataError::Schema {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    /// The whole `.npy` member `name`, with its header checked (shape within limits and
    /// consistent with the data length); `None` if the archive has no such array.
    fn member(&mut self, name: &str, shape: Shape) -> Result<Option<Vec<u8>>, DataError> {
        let file_name = npyz::npz::file_name_from_array_name(name);
        let mut bytes = Vec::new();
        let read = match self.archive.zip_archive().by_name(&file_name) {
            Ok(file) if file.size() > MAX_MEMBER_BYTES => Err(format!(
                "the archive says it unpacks to {} bytes, more than the {MAX_MEMBER_BYTES} bytes an array may have",
                file.size()
            )),
            // The declared size may lie: never unpack more than the limit.
            Ok(file) => match file.take(MAX_MEMBER_BYTES + 1).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 > MAX_MEMBER_BYTES => Err(format!(
                    "it unpacks to more than the {MAX_MEMBER_BYTES} bytes an array may have"
                )),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = read {
            return Err(self.malformed(format!("array `{name}`: {e}")));
        }
        let header = NpyHeaderInfo::parse(&bytes)
            .map_err(|reason| self.malformed(format!("array `{name}`: {reason}")))?;
        match (shape, header.shape.as_slice()) {
            (Shape::Vector, [_]) | (Shape::Scalar, [] | [1]) => {}
            (Shape::Vector, dims) => {
                return Err(self.schema(format!(
                    "array `{name}` has shape {dims:?}; expected a 1-D array"
                )));
            }
            (Shape::Scalar, dims) => {
                return Err(self.schema(format!(
                    "array `{name}` has shape {dims:?}; expected a scalar or a 1-element array"
                )));
            }
        }
        Ok(Some(bytes))
    }

    fn required(&mut self, name: &str) -> Result<Vec<u8>, DataError> {
        self.member(name, Shape::Vector)?
            .ok_or_else(|| self.schema(format!("missing array `{name}`")))
    }

    fn npy<'b>(&self, name: &str, bytes: &'b [u8]) -> Result<NpyFile<&'b [u8]>, DataError> {
        NpyFile::new(bytes).map_err(|e| self.malformed(format!("array `{name}`: {e}")))
    }

    fn wrong_dtype(&self, name: &str, dtype: &DType, expected: &str) -> DataError {
        self.schema(format!(
            "array `{name}` has dtype {}; expected {expected}",
            dtype.descr()
        ))
    }

    /// A float64 or float32 array as f64.
    fn floats(&mut self, name: &str) -> Result<Vec<f64>, DataError> {
        let bytes = self.required(name)?;
        let file = self.npy(name, &bytes)?;
        let dtype = file.dtype();
        let values: std::io::Result<Vec<f64>> = match file.try_data::<f64>() {
            Ok(r) => r.collect(),
            Err(file) => match file.try_data::<f32>() {
                Ok(r) => r.map(|x| x.map(f64::from)).collect(),
                Err(_) => return Err(self.wrong_dtype(name, &dtype, "float64 or float32")),
            },
        };
        values.map_err(|e| self.malformed(format!("array `{name}`: {e}")))
    }

    /// An integer array of any width and signedness, as i128 (lossless); booleans too when
    /// `allow_bool`.
    fn integers(
        &mut self,
        name: &str,
        bytes: &[u8],
        allow_bool: bool,
    ) -> Result<Vec<i128>, DataError> {
        let file = self.npy(name, bytes)?;
        let dtype = file.dtype();
        fn read<T: npyz::Deserialize + Into<i128>>(
            file: NpyFile<&[u8]>,
        ) -> Result<std::io::Result<Vec<i128>>, NpyFile<&[u8]>> {
            file.try_data::<T>()
                .map(|r| r.map(|x| x.map(Into::into)).collect())
        }
        let values = read::<i64>(file)
            .or_else(read::<i32>)
            .or_else(read::<i16>)
            .or_else(read::<i8>)
            .or_else(read::<u64>)
            .or_else(read::<u32>)
            .or_else(read::<u16>)
            .or_else(read::<u8>)
            .or_else(|file| match allow_bool {
                true => file
                    .try_data::<bool>()
                    .map(|r| r.map(|x| x.map(i128::from)).collect()),
                false => Err(file),
            });
        match values {
            Ok(v) => v.map_err(|e| self.malformed(format!("array `{name}`: {e}"))),
            Err(_) if allow_bool => Err(self.wrong_dtype(name, &dtype, "bool or an integer type")),
            Err(_) => Err(self.wrong_dtype(name, &dtype, "an integer type")),
        }
    }

    /// An integer id array, every entry in `0..=u32::MAX`.
    fn ids(&mut self, name: &str) -> Result<Vec<u32>, DataError> {
        let bytes = self.required(name)?;
        self.integers(name, &bytes, false)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                u32::try_from(v).map_err(|_| {
                    self.schema(format!(
                        "array `{name}`[{i}] = {v} is not a valid id (0 to 4294967295)"
                    ))
                })
            })
            .collect()
    }

    /// The optional scalar `num_neurons`.
    fn num_neurons(&mut self) -> Result<Option<usize>, DataError> {
        let name = "num_neurons";
        let Some(bytes) = self.member(name, Shape::Scalar)? else {
            return Ok(None);
        };
        let values = self.integers(name, &bytes, false)?;
        let v = values.first().copied().unwrap_or(-1);
        u32::try_from(v)
            .map(|v| Some(v as usize))
            .map_err(|_| self.schema(format!("`num_neurons` = {v} is not a valid neuron count")))
    }

    /// The optional per-trial `censored` flags (bool, or integers 0 / 1).
    fn censored(&mut self) -> Result<Option<Vec<bool>>, DataError> {
        let name = "censored";
        let Some(bytes) = self.member(name, Shape::Vector)? else {
            return Ok(None);
        };
        self.integers(name, &bytes, true)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(self.schema(format!("array `censored`[{i}] = {v} is not 0 or 1"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The optional per-trial `condition` ids (any integer type, `0..2^32`).
    fn conditions(&mut self) -> Result<Option<Vec<u32>>, DataError> {
        let name = "condition";
        let Some(bytes) = self.member(name, Shape::Vector)? else {
            return Ok(None);
        };
        self.integers(name, &bytes, false)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                u32::try_from(v).map_err(|_| {
                    self.schema(format!(
                        "array `condition`[{i}] = {v} is not a valid condition id (ids are >= 0)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// The parts of a `.npy` header checked before handing the member to npyz.
struct NpyHeaderInfo {
    shape: Vec<u64>,
}

impl NpyHeaderInfo {
    /// Parses the magic, header length and `shape` of a `.npy` member, and checks that the
    /// shape's element count is representable and at most the number of data bytes (every
    /// supported dtype has at least 1 byte per element).
    fn parse(bytes: &[u8]) -> Result<NpyHeaderInfo, String> {
        const MAGIC: &[u8] = b"\x93NUMPY";
        let truncated = || "truncated .npy header".to_string();
        if bytes.len() < 10 {
            return Err(truncated());
        }
        if &bytes[..6] != MAGIC {
            return Err("not a .npy array (bad magic)".into());
        }
        let (len, start) = match bytes[6] {
            1 => (
                usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
                10usize,
            ),
            2 | 3 => {
                let b = bytes.get(8..12).ok_or_else(truncated)?;
                (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
            }
            v => return Err(format!("unsupported .npy version {v}")),
        };
        let end = start.checked_add(len).ok_or_else(truncated)?;
        let text = bytes.get(start..end).ok_or_else(truncated)?;
        let text = String::from_utf8_lossy(text);
        let shape = parse_shape(&text)
            .ok_or_else(|| format!("cannot read the shape in .npy header {text:?}"))?;
        let count = shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("shape {shape:?} is too large"))?;
        let count = if shape.contains(&0) { 0 } else { count };
        if count > (bytes.len() - end) as u64 {
            return Err(format!(
                "shape {shape:?} needs more data than the {} bytes present (truncated array?)",
                bytes.len() - end
            ));
        }
        Ok(NpyHeaderInfo { shape })
    }
}

/// The tuple after the `shape` key of a `.npy` header dict, e.g. `(3,)` or `()`.
fn parse_shape(header: &str) -> Option<Vec<u64>> {
    let after_key = header
        .find("'shape'")
        .or_else(|| header.find("\"shape\""))
        .map(|i| &header[i + 7..])?;
    let open = after_key.find('(')?;
    let close = after_key.find(')')?;
    if after_key[..open].trim() != ":" || close < open {
        return None;
    }
    after_key[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse().ok())
        .collect()
}

impl SpikeData {
    /// Reads a `.npz` file as written by numpy's `np.savez` (or [`SpikeData::write_npz`]).
    ///
    /// Arrays: `spike_times`, `trial_start`, `trial_end` (float64 or float32, seconds),
    /// `neuron_ids`, `trial_ids` (any integer dtype, values in `0..2^32`), all 1-D; optional
    /// `num_neurons` (integer scalar or 1-element array; inferred as the largest neuron id + 1,
    /// or 1 without spikes, when absent), `censored` (bool or 0/1 integers, one per trial) and
    /// `condition` (integer condition ids, one per trial; all 0 when absent).
    /// The trials are built by [`SpikeData::from_spike_times`].
    ///
    /// Errors name the file: [`DataError::Malformed`] (not a zip archive, truncated archive or
    /// array, bad `.npy` header), [`DataError::Schema`] (missing array, wrong dtype or shape,
    /// invalid id or flag), [`DataError::Content`] (invalid spike times, with indices).
    pub fn read_npz(path: impl AsRef<Path>) -> Result<SpikeData, DataError> {
        let path = path.as_ref();
        parse_npz(&read_bytes(path)?, path)
    }

    /// Writes the `.npz` form atomically: the arrays of [`SpikeData::to_spike_times`]
    /// (`spike_times`, `trial_start`, `trial_end` as float64; `neuron_ids`, `trial_ids` as
    /// int64), `num_neurons` (int64 scalar), `censored` (bool, one per trial) and, when there is
    /// more than one condition, `condition` (int64, one per trial), deflate compressed. Trials are laid end to end from 0 s; see [`SpikeData::to_spike_times`] for
    /// what a round trip preserves.
    pub fn write_npz(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        let bytes = self.to_npz_bytes().map_err(|error| DataError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        write_atomic(path, &bytes)
    }

    /// The bytes [`SpikeData::write_npz`] writes.
    fn to_npz_bytes(&self) -> std::io::Result<Vec<u8>> {
        let raw = self.to_spike_times();
        let censored: Vec<bool> = self.trials().iter().map(|t| t.censored()).collect();
        let ids = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>();
        let mut arrays = vec![
            NpzArray::vector("spike_times", NpzValues::F64(raw.spike_times)),
            NpzArray::vector("neuron_ids", NpzValues::I64(ids(&raw.neuron_ids))),
            NpzArray::vector("trial_ids", NpzValues::I64(ids(&raw.trial_ids))),
            NpzArray::vector("trial_start", NpzValues::F64(raw.trial_start)),
            NpzArray::vector("trial_end", NpzValues::F64(raw.trial_end)),
            NpzArray {
                name: "num_neurons".into(),
                shape: vec![],
                values: NpzValues::I64(vec![raw.num_neurons as i64]),
            },
            NpzArray::vector("censored", NpzValues::Bool(censored)),
        ];
        if self.num_conditions() > 1 {
            let conditions: Vec<u32> = self.trials().iter().map(|t| t.condition()).collect();
            arrays.push(NpzArray::vector(
                "condition",
                NpzValues::I64(ids(&conditions)),
            ));
        }
        npz_bytes(&arrays)
    }
}

/// The values of one array of a `.npz` file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpzValues {
    /// float64.
    F64(Vec<f64>),
    /// int64.
    I64(Vec<i64>),
    /// bool.
    Bool(Vec<bool>),
}

impl NpzValues {
    fn len(&self) -> usize {
        match self {
            NpzValues::F64(v) => v.len(),
            NpzValues::I64(v) => v.len(),
            NpzValues::Bool(v) => v.len(),
        }
    }
}

/// One named array of a `.npz` file, C order (the last index fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct NpzArray {
    /// The array's name (numpy's key).
    pub name: String,
    /// Its shape (empty: a scalar).
    pub shape: Vec<u64>,
    /// Its values, as many as the shape's product.
    pub values: NpzValues,
}

impl NpzArray {
    /// A 1-D array.
    pub fn vector(name: impl Into<String>, values: NpzValues) -> NpzArray {
        NpzArray {
            name: name.into(),
            shape: vec![values.len() as u64],
            values,
        }
    }
}

/// Writes `arrays` as a deflate-compressed `.npz` file (as numpy's `np.savez_compressed`),
/// atomically; errors name the file (including an array whose shape does not match its values).
pub fn write_npz_arrays(path: impl AsRef<Path>, arrays: &[NpzArray]) -> Result<(), DataError> {
    let path = path.as_ref();
    let bytes = npz_bytes(arrays).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    write_atomic(path, &bytes)
}

fn npz_bytes(arrays: &[NpzArray]) -> std::io::Result<Vec<u8>> {
    let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
    for a in arrays {
        let expected: u64 = a.shape.iter().product();
        if expected != a.values.len() as u64 {
            return Err(std::io::Error::other(format!(
                "array '{}': shape {:?} needs {expected} values, got {}",
                a.name,
                a.shape,
                a.values.len()
            )));
        }
        match &a.values {
            NpzValues::F64(v) => write_array(&mut npz, &a.name, v, &a.shape)?,
            NpzValues::I64(v) => write_array(&mut npz, &a.name, v, &a.shape)?,
            NpzValues::Bool(v) => write_array(&mut npz, &a.name, v, &a.shape)?,
        }
    }
    let cursor = npz.zip_writer().finish().map_err(std::io::Error::other)?;
    Ok(cursor.into_inner())
}

/// Writes one array of the given shape, deflate compressed.
fn write_array<T: npyz::AutoSerialize>(
    npz: &mut NpzWriter<Cursor<Vec<u8>>>,
    name: &str,
    values: &[T],
    shape: &[u64],
) -> std::io::Result<()> {
    let options = FileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut w = npz
        .array::<T>(name, options)?
        .default_dtype()
        .shape(shape)
        .begin_nd()?;
    for v in values {
        w.push(v)?;
    }
    w.finish()
}

/// Parses `.npz` bytes; `path` is used in error messages only.
fn parse_npz(bytes: &[u8], path: &Path) -> Result<SpikeData, DataError> {
    let archive = NpzArchive::new(Cursor::new(bytes)).map_err(|e| DataError::Malformed {
        path: path.to_path_buf(),
        reason: format!("not a readable .npz (zip) archive: {e}"),
    })?;
    let mut r = Reader { archive, path };
    let spike_times = r.floats("spike_times")?;
    let neuron_ids = r.ids("neuron_ids")?;
    let trial_ids = r.ids("trial_ids")?;
    let trial_start = r.floats("trial_start")?;
    let trial_end = r.floats("trial_end")?;
    let num_neurons = r
        .num_neurons()?
        .unwrap_or_else(|| infer_num_neurons(neuron_ids.iter().copied().max()));
    let censored = r.censored()?;
    let conditions = r.conditions()?;
    let raw = SpikeTimes {
        num_neurons,
        spike_times,
        neuron_ids,
        trial_ids,
        trial_start,
        trial_end,
    };
    let mut data = SpikeData::from_spike_times(&raw).map_err(|e| e.in_file(path))?;
    if let Some(flags) = censored {
        data = data
            .with_censored_flags(&flags)
            .map_err(|reason| r.schema(reason))?;
    }
    if let Some(ids) = conditions {
        data = data
            .with_condition_ids(&ids)
            .map_err(|reason| r.schema(reason))?;
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SpikeTimesProblem;
    use crate::trial::Trial;

    fn sample() -> SpikeData {
        SpikeData::new(
            3,
            vec![
                Trial::new(vec![0.125, 0.25, 0.5], vec![Some(0), Some(2), None]).unwrap(),
                Trial::new(vec![0.5, 0.0], vec![Some(1), None])
                    .unwrap()
                    .with_censored(true),
            ],
        )
        .unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<SpikeData, DataError> {
        parse_npz(bytes, Path::new("test.npz"))
    }

    /// An archive holding the given (name, .npy bytes) members.
    fn archive(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in members {
            npz.zip_writer()
                .start_file(format!("{name}.npy"), FileOptions::default())
                .unwrap();
            std::io::Write::write_all(npz.zip_writer(), bytes).unwrap();
        }
        npz.zip_writer().finish().unwrap().into_inner()
    }

    /// A .npy member with the given header dict and data bytes.
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn f8(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn i4(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A valid hand-made archive: 2 spikes in 1 trial, with int32 ids and float32 ends.
    fn members() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("spike_times", npy("<f8", "(2,)", &f8(&[0.25, 0.5]))),
            ("neuron_ids", npy("<i4", "(2,)", &i4(&[1, 0]))),
            ("trial_ids", npy("|u1", "(2,)", &[0, 0])),
            ("trial_start", npy("<f8", "(1,)", &f8(&[0.0]))),
            ("trial_end", npy("<f4", "(1,)", &1.0f32.to_le_bytes())),
        ]
    }

    /// The valid archive with member `name` replaced by `member` (removed if `None`).
    fn with(name: &'static str, member: Option<Vec<u8>>) -> Vec<u8> {
        let mut m: Vec<_> = members().into_iter().filter(|(n, _)| *n != name).collect();
        if let Some(b) = member {
            m.push((name, b));
        }
        archive(&m)
    }

    fn schema_error(bytes: &[u8]) -> String {
        match parse(bytes) {
            Err(e @ DataError::Schema { .. }) => e.to_string(),
            other => panic!("expected a schema error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_bytes() {
        let d = sample();
        assert_eq!(parse(&d.to_npz_bytes().unwrap()).unwrap(), d);
    }

    #[test]
    fn conditions_round_trip_and_are_checked() {
        let single = sample().to_npz_bytes().unwrap();
        let names = |bytes: &[u8]| {
            NpzArchive::new(Cursor::new(bytes))
                .unwrap()
                .array_names()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert!(!names(&single).contains(&"condition".to_string()));
        let trials = sample().into_trials();
        let d = SpikeData::new(
            3,
            vec![trials[0].clone().with_condition(2), trials[1].clone()],
        )
        .unwrap();
        let bytes = d.to_npz_bytes().unwrap();
        assert!(names(&bytes).contains(&"condition".to_string()));
        assert_eq!(parse(&bytes).unwrap(), d);
        let d = parse(&with("condition", Some(npy("|u1", "(1,)", &[4])))).unwrap();
        assert_eq!((d.num_conditions(), d.trials()[0].condition()), (5, 4));
        let e = schema_error(&with("condition", Some(npy("<i4", "(1,)", &i4(&[-1])))));
        assert!(
            e.contains("array `condition`[0] = -1 is not a valid condition id"),
            "{e}"
        );
        let e = schema_error(&with("condition", Some(npy("<i4", "(1,)", &i4(&[1000])))));
        assert!(e.contains("trial 0: condition id 1000 is not below"), "{e}");
        let e = schema_error(&with("condition", Some(npy("<i4", "(2,)", &i4(&[0, 1])))));
        assert!(
            e.contains("condition has 2 entries but there are 1 trials"),
            "{e}"
        );
        let e = schema_error(&with("condition", Some(npy("<f8", "(1,)", &f8(&[0.0])))));
        assert!(e.contains("condition"), "{e}");
    }

    #[test]
    fn mixed_dtypes_and_inferred_neurons() {
        let d = parse(&archive(&members())).unwrap();
        assert_eq!(d.num_neurons(), 2);
        assert_eq!(d.trials()[0].isi(), &[0.25, 0.25, 0.5]);
        assert_eq!(d.trials()[0].neuron(), &[Some(1), Some(0), None]);
        let d = parse(&with(
            "num_neurons",
            Some(npy("<i8", "(1,)", &7i64.to_le_bytes())),
        ))
        .unwrap();
        assert_eq!(d.num_neurons(), 7);
        let d = parse(&with(
            "censored",
            Some(npy("<i8", "(1,)", &1i64.to_le_bytes())),
        ))
        .unwrap();
        assert!(d.trials()[0].censored());
        // Big-endian data is read too.
        let be: Vec<u8> = [0.25f64, 0.5]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let d = parse(&with("spike_times", Some(npy(">f8", "(2,)", &be)))).unwrap();
        assert_eq!(d.trials()[0].isi()[0], 0.25);
    }

    #[test]
    fn missing_array() {
        let e = schema_error(&with("trial_ids", None));
        assert_eq!(e, "test.npz: missing array `trial_ids`");
    }

    #[test]
    fn wrong_dtypes() {
        let e = schema_error(&with("spike_times", Some(npy("<i8", "(2,)", &[0; 16]))));
        assert!(
            e.contains("array `spike_times` has dtype '<i8'; expected float64 or float32"),
            "{e}"
        );
        let e = schema_error(&with(
            "neuron_ids",
            Some(npy("<f8", "(2,)", &f8(&[1.0, 0.0]))),
        ));
        assert!(
            e.contains("array `neuron_ids` has dtype '<f8'; expected an integer type"),
            "{e}"
        );
        let e = schema_error(&with("censored", Some(npy("<f4", "(1,)", &[0; 4]))));
        assert!(e.contains("expected bool or an integer type"), "{e}");
    }

    #[test]
    fn wrong_shapes_and_values() {
        let e = schema_error(&with(
            "trial_start",
            Some(npy("<f8", "(1, 1)", &f8(&[0.0]))),
        ));
        assert!(
            e.contains("array `trial_start` has shape [1, 1]; expected a 1-D array"),
            "{e}"
        );
        let e = schema_error(&with("num_neurons", Some(npy("<i8", "(2,)", &[0; 16]))));
        assert!(e.contains("expected a scalar"), "{e}");
        let e = schema_error(&with("neuron_ids", Some(npy("<i4", "(2,)", &i4(&[1, -3])))));
        assert!(
            e.contains("array `neuron_ids`[1] = -3 is not a valid id"),
            "{e}"
        );
        let e = schema_error(&with(
            "num_neurons",
            Some(npy("<i8", "()", &(-2i64).to_le_bytes())),
        ));
        assert!(e.contains("`num_neurons` = -2"), "{e}");
        let e = schema_error(&with(
            "censored",
            Some(npy("<i8", "(1,)", &2i64.to_le_bytes())),
        ));
        assert!(e.contains("array `censored`[0] = 2 is not 0 or 1"), "{e}");
        let e = schema_error(&with("censored", Some(npy("|b1", "(2,)", &[0, 1]))));
        assert!(
            e.contains("censored has 2 entries but there are 1 trials"),
            "{e}"
        );
    }

    #[test]
    fn invalid_content_names_trial_and_spike() {
        let e = parse(&with(
            "spike_times",
            Some(npy("<f8", "(2,)", &f8(&[0.5, 0.25]))),
        ))
        .unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error,
            DataError::SpikeTimes(SpikeTimesProblem::Unsorted { trial: 0, spike: 1, .. }))),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("test.npz: spike times: trial 0, spike 1:"),
            "{e}"
        );
        let e = parse(&with(
            "num_neurons",
            Some(npy("<i8", "()", &1i64.to_le_bytes())),
        ))
        .unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error,
            DataError::SpikeTimes(SpikeTimesProblem::NeuronOutOfRange { spike: 0, id: 1, .. }))),
            "{e:?}"
        );
        let e = parse(&with(
            "num_neurons",
            Some(npy("<i8", "()", &0i64.to_le_bytes())),
        ))
        .unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error, DataError::NoNeurons))
        );
    }

    #[test]
    fn malformed_members() {
        for (member, needle) in [
            (
                npy("<f8", "(17,)", &f8(&[0.25, 0.5])),
                "needs more data than the 16 bytes",
            ),
            (npy("<f8", "(3,)", &f8(&[0.25, 0.5])), "array `spike_times`"),
            (
                npy("<f8", "(4294967296, 4294967296, 4294967296)", &[]),
                "is too large",
            ),
            (
                npy("<f8", "(0, 4294967296, 4294967296)", &[]),
                "is too large",
            ),
            (
                b"\x93NUMPY\x01\x00\xff\xff{'descr'".to_vec(),
                "truncated .npy header",
            ),
            (b"NOTNUMPY\x01\x00\x00\x00".to_vec(), "bad magic"),
            (
                npy("<f8", "[2]", &f8(&[0.25, 0.5])),
                "cannot read the shape",
            ),
            (npy("<q8", "(2,)", &f8(&[0.25, 0.5])), "array `spike_times`"),
        ] {
            let e = parse(&with("spike_times", Some(member))).unwrap_err();
            assert!(matches!(e, DataError::Malformed { .. }), "{needle}: {e:?}");
            assert!(e.to_string().contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().to_npz_bytes().unwrap();
        for cut in 0..bytes.len() {
            let e = parse(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(e, DataError::Malformed { .. } | DataError::Schema { .. }),
                "cut at {cut}: {e:?}"
            );
        }
        let e = parse(b"").unwrap_err();
        assert!(
            e.to_string().contains("not a readable .npz (zip) archive"),
            "{e}"
        );
    }

    #[test]
    fn parse_shape_forms() {
        assert_eq!(
            parse_shape("{'descr': '<f8', 'shape': (3,), }"),
            Some(vec![3])
        );
        assert_eq!(parse_shape("{'shape': (), 'descr': '<f8'}"), Some(vec![]));
        assert_eq!(parse_shape("{\"shape\": (2, 5L)}"), Some(vec![2, 5]));
        assert_eq!(parse_shape("{'descr': '<f8'}"), None);
        assert_eq!(parse_shape("{'shape': (-1,)}"), None);
    }
}
