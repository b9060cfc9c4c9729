//! Writing and reading one CSV file of a run directory against its
//! [`FileSchema`]: the writer writes the schema's header and checks every
//! row's width; the reader applies the reading rule of [`super::schema`]
//! (columns by name, extra columns ignored, every schema column present,
//! empty cells only in nullable columns). Every reading error is a
//! [`UsageError`](crate::error::UsageError) naming the file, the line and
//! the column.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::schema::{Column, FileSchema, Type};
use crate::usage;

/// A CSV writer on a buffered file, with the schema's header written.
pub struct Writer {
    w: csv::Writer<BufWriter<File>>,
    path: PathBuf,
    schema: &'static FileSchema,
}

impl Writer {
    /// Creates `dir/<schema.name>`.
    pub fn create(dir: &Path, schema: &'static FileSchema) -> Result<Writer> {
        Writer::create_path(&dir.join(schema.name), schema)
    }

    /// Creates `path` with the columns of `schema`.
    pub fn create_path(path: &Path, schema: &'static FileSchema) -> Result<Writer> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 20, file));
        w.write_record(schema.names())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Writer {
            w,
            path: path.to_owned(),
            schema,
        })
    }

    /// Writes one row; it must have one field per schema column.
    pub fn row<I, T>(&mut self, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut n = 0;
        for field in fields {
            self.w
                .write_field(field)
                .with_context(|| format!("writing {}", self.path.display()))?;
            n += 1;
        }
        if n != self.schema.columns.len() {
            return Err(anyhow!(
                "{}: a row of {n} fields for {} columns (internal error)",
                self.path.display(),
                self.schema.columns.len()
            ));
        }
        self.w
            .write_record(None::<&[u8]>)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn finish(mut self) -> Result<()> {
        self.w
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))?;
        let inner = self.w.into_inner().map_err(|e| anyhow!("{e}"))?;
        inner
            .into_inner()
            .map_err(|e| anyhow!("{e}"))?
            .sync_all()
            .ok();
        Ok(())
    }
}

/// A CSV file opened for reading, its header matched against the schema.
pub struct Reader {
    pub path: PathBuf,
    schema: &'static FileSchema,
    /// The header as found.
    headers: Vec<String>,
    /// Schema column of each file column (`None`: an extra column).
    column_of: Vec<Option<&'static Column>>,
    reader: csv::Reader<BufReader<File>>,
}

impl Reader {
    /// Opens `dir/<schema.name>`.
    pub fn open(dir: &Path, schema: &'static FileSchema) -> Result<Reader> {
        Reader::open_path(&dir.join(schema.name), schema)
    }

    /// Opens `path` as a file of `schema`; the error names the file and
    /// every missing column.
    pub fn open_path(path: &Path, schema: &'static FileSchema) -> Result<Reader> {
        let file = crate::error::open_regular(path).map_err(|e| {
            usage!(
                "cannot read {}: {e}; point the option at a run directory written by seqlearn-nest \
                 (docs/formats.md)",
                path.display()
            )
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(BufReader::new(file));
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| usage!("{}: cannot read the header row: {e}", path.display()))?
            .iter()
            .map(str::to_owned)
            .collect();
        if headers.iter().all(|h| h.is_empty()) {
            return Err(usage!("{}: empty file or empty header row", path.display()));
        }
        let expected = || schema.names().join(",");
        for c in schema.columns {
            match headers.iter().filter(|h| *h == c.name).count() {
                1 => {}
                0 => {
                    return Err(usage!(
                        "{}: missing column `{}` (header is `{}`; {} has the columns `{}`, in any \
                         order; see docs/formats.md)",
                        path.display(),
                        c.name,
                        headers.join(","),
                        schema.name,
                        expected()
                    ))
                }
                _ => {
                    return Err(usage!(
                        "{}: column `{}` appears more than once in the header",
                        path.display(),
                        c.name
                    ))
                }
            }
        }
        let column_of = headers.iter().map(|h| schema.column(h)).collect();
        Ok(Reader {
            path: path.to_owned(),
            schema,
            headers,
            column_of,
            reader,
        })
    }

    /// Position in the file of the schema column `name`. Asking for a name
    /// that is not in the schema is a programming error.
    pub fn col(&self, name: &str) -> usize {
        assert!(
            self.schema.column(name).is_some(),
            "{} has no column `{name}` in its schema",
            self.schema.name
        );
        self.headers
            .iter()
            .position(|h| h == name)
            .expect("checked in open")
    }

    /// Positions of several columns.
    pub fn cols<const N: usize>(&self, names: [&str; N]) -> [usize; N] {
        names.map(|n| self.col(n))
    }

    /// Number of columns in the file (schema and extra).
    pub fn width(&self) -> usize {
        self.headers.len()
    }

    /// Calls `f` for every data row.
    pub fn for_each<F>(&mut self, mut f: F) -> Result<()>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let mut rec = csv::StringRecord::new();
        let mut line = 1usize;
        loop {
            let more = self.reader.read_record(&mut rec).map_err(|e| {
                usage!(
                    "{}: malformed CSV after line {line}: {e}",
                    self.path.display()
                )
            })?;
            if !more {
                return Ok(());
            }
            line += 1;
            f(&Row {
                rec: &rec,
                path: &self.path,
                line,
                headers: &self.headers,
                column_of: &self.column_of,
            })?;
        }
    }
}

/// One data row with typed accessors (by file position, see
/// [`Reader::col`]) whose errors name file, line and column.
pub struct Row<'a> {
    rec: &'a csv::StringRecord,
    path: &'a Path,
    pub line: usize,
    headers: &'a [String],
    column_of: &'a [Option<&'static Column>],
}

impl Row<'_> {
    /// `file:line` of this row.
    pub fn at(&self) -> String {
        format!("{}:{}", self.path.display(), self.line)
    }

    fn name(&self, i: usize) -> &str {
        self.headers.get(i).map_or("?", String::as_str)
    }

    fn bad(&self, i: usize, what: &str) -> anyhow::Error {
        usage!(
            "{}: column `{}`: cannot parse {:?} as {what}",
            self.at(),
            self.name(i),
            self.rec.get(i).unwrap_or("")
        )
    }

    /// The raw cell.
    pub fn str(&self, i: usize) -> Result<&str> {
        self.rec.get(i).ok_or_else(|| {
            usage!(
                "{}: row has {} fields, expected column `{}`",
                self.at(),
                self.rec.len(),
                self.name(i)
            )
        })
    }

    /// The cell, `None` when it is empty in a nullable column; an empty
    /// cell elsewhere is an error.
    fn cell(&self, i: usize) -> Result<Option<&str>> {
        let s = self.str(i)?;
        if !s.is_empty() {
            return Ok(Some(s));
        }
        match self.column_of.get(i).copied().flatten() {
            Some(c) if c.nullable => Ok(None),
            _ => Err(usage!(
                "{}: column `{}` must not be empty",
                self.at(),
                self.name(i)
            )),
        }
    }

    fn parse<T: std::str::FromStr>(&self, i: usize, what: &str) -> Result<Option<T>> {
        match self.cell(i)? {
            None => Ok(None),
            Some(s) => s.parse::<T>().map(Some).map_err(|_| self.bad(i, what)),
        }
    }

    fn required<T>(&self, i: usize, v: Option<T>) -> Result<T> {
        v.ok_or_else(|| {
            usage!(
                "{}: column `{}` must not be empty here",
                self.at(),
                self.name(i)
            )
        })
    }

    pub fn f64(&self, i: usize) -> Result<f64> {
        let v = self.opt_f64(i)?;
        self.required(i, v)
    }

    pub fn opt_f64(&self, i: usize) -> Result<Option<f64>> {
        self.parse(i, "a number")
    }

    pub fn usize(&self, i: usize) -> Result<usize> {
        let v = self.opt_usize(i)?;
        self.required(i, v)
    }

    pub fn opt_usize(&self, i: usize) -> Result<Option<usize>> {
        self.parse(i, "a non-negative integer")
    }

    pub fn u32(&self, i: usize) -> Result<u32> {
        let v = self.parse(i, "a non-negative integer below 2^32")?;
        self.required(i, v)
    }

    pub fn bool(&self, i: usize) -> Result<bool> {
        match self.cell(i)? {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(self.bad(i, "`true` or `false`")),
        }
    }

    /// A cell of an enum column, checked against the schema's values.
    pub fn choice(&self, i: usize) -> Result<&str> {
        let s = self.str(i)?;
        if let Some(Column {
            ty: Type::Enum(values),
            ..
        }) = self.column_of.get(i).copied().flatten()
        {
            if !values.contains(&s) {
                return Err(usage!(
                    "{}: column `{}`: expected {}, found {s:?}",
                    self.at(),
                    self.name(i),
                    values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        }
        Ok(s)
    }
}
