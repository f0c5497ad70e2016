"""full-text search: folded and exact indexes of current versions, kept in step by triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Everything here is named ``search_*`` (tables, FTS5 shadow tables, views, triggers, functions), so that the
models/migrations comparison can leave it out: it is maintained by the database, not mapped by the ORM.

Why triggers and no Python in them: the index must change in the same transaction as the archive, whoever
writes (the crawler, a repair script, the sqlite3 shell).  A trigger calling a Python function registered on
SQLAlchemy's connections would make every other client's write fail with "no such function", so the triggers
use built-in SQL only:

- SQLite: two FTS5 tables over the *current* version of each article (rowid = article id).  ``search_exact``
  tokenizes with ``unicode61 remove_diacritics 0`` (keeps marks, folds case); ``search_folded`` with
  ``remove_diacritics 2``, which strips every Latin mark including Vietnamese stacked ones (ộ, ẫ, ự), plus a
  ``replace()`` of đ/Đ (and the look-alike ð/Ð): the one letter no Unicode decomposition folds.  Both are
  external-content tables reading views of articles JOIN versions, so no text is stored twice and
  ``'rebuild'`` / ``'integrity-check'`` work.  Versions are never updated in place, so the values a trigger
  passes to FTS5's ``'delete'`` are exactly the ones it indexed.
- PostgreSQL: ``search_docs`` (one row per article) with a folded and an exact ``tsvector`` (GIN indexed),
  folded by ``search_fold()``: ``translate()`` with the same letter table as storage/fold.py, then ``lower()``
  (``unaccent`` is an extension not every server has, and it too leaves đ alone).

A later migration that rebuilds ``articles`` or ``versions`` in SQLite batch mode (copy, drop, rename) drops
their triggers: it must re-run ``sqlite_triggers()`` from here (tests/test_search.py checks they exist).
"""

from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# bm25/ts_rank weights live in storage/search.py; the tokenizers and the fold live here, frozen with the schema.
# storage/fold.py fold() of every precomposed Latin letter that folds to one ASCII letter (PostgreSQL translate())
PG_FOLD_FROM = (
    'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïðñòóôõöùúûüýÿĀāĂăĄ'
    'ąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌō'
    'ŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǍǎǏǐǑǒǓǔǕǖ'
    'ǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪ'
    'ȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲ'
    'ḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮ'
    'ṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắ'
    'ẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừ'
    'ỬửỮữỰựỲỳỴỵỶỷỸỹ'
)
PG_FOLD_TO = (
    'aaaaaaceeeeiiiidnooooouuuuyaaaaaaceeeeiiiidnooooouuuuyyaaaaa'
    'accccccccddddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoo'
    'oooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouuuu'
    'uuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeo'
    'oooooooyyaabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkk'
    'kkkllllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttt'
    'tttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwysaaaaaaaaaaaaaaaa'
    'aaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuu'
    'uuuuuuyyyyyyyy'
)


def _sqlite_fold(expr: str) -> str:
    # the letters remove_diacritics cannot fold: đ/Đ have no decomposition (ð/Ð are typed for them)
    for ch, to in (("đ", "d"), ("Đ", "D"), ("ð", "d"), ("Ð", "D")):
        expr = f"replace({expr}, '{ch}', '{to}')"
    return expr


def _cols(prefix: str, table: str) -> str:
    if table == "search_folded":
        return ", ".join(_sqlite_fold(f"{prefix}.{c}") for c in ("title", "lead", "text"))
    return ", ".join(f"{prefix}.{c}" for c in ("title", "lead", "text"))


def _unindex(table: str, article: str, number: str, extra: str = "") -> str:
    """Remove article ``article``'s document, built from its version ``number`` (the values it was indexed with)."""
    return (f"INSERT INTO {table}({table}, rowid, title, lead, text) "
            f"SELECT 'delete', v.article_id, {_cols('v', table)} FROM versions v "
            f"WHERE v.article_id = {article} AND v.number = {number}{extra};")


def _index(table: str, article: str, number: str, extra: str = "") -> str:
    return (f"INSERT INTO {table}(rowid, title, lead, text) "
            f"SELECT v.article_id, {_cols('v', table)} FROM versions v "
            f"WHERE v.article_id = {article} AND v.number = {number}{extra};")


TABLES = ("search_exact", "search_folded")


def sqlite_triggers() -> list[str]:
    both = lambda f, *a: "\n  ".join(f(t, *a) for t in TABLES)  # noqa: E731
    current = "(SELECT a.current_version FROM articles a WHERE a.id = {}.article_id)"
    return [
        # the article points at another version (the archive's ordinary edit path), or changes id
        f"""CREATE TRIGGER search_articles_au AFTER UPDATE OF id, current_version ON articles
WHEN OLD.id IS NOT NEW.id OR OLD.current_version IS NOT NEW.current_version BEGIN
  {both(_unindex, 'OLD.id', 'OLD.current_version')}
  {both(_index, 'NEW.id', 'NEW.current_version')}
END""",
        # a row inserted already pointing at an existing version (rare: bulk loads, id reuse)
        f"""CREATE TRIGGER search_articles_ai AFTER INSERT ON articles BEGIN
  {both(_index, 'NEW.id', 'NEW.current_version')}
END""",
        # BEFORE: the versions still exist; the cascade that follows finds no article and leaves the index alone
        f"""CREATE TRIGGER search_articles_bd BEFORE DELETE ON articles BEGIN
  {both(_unindex, 'OLD.id', 'OLD.current_version')}
END""",
        # a version inserted after its article already points at its number
        f"""CREATE TRIGGER search_versions_ai AFTER INSERT ON versions
WHEN NEW.number = {current.format('NEW')} BEGIN
  {both(_index, 'NEW.article_id', 'NEW.number', ' AND v.id = NEW.id')}
END""",
        # versions are never edited by vnarchive; a repair by hand still keeps the index right
        f"""CREATE TRIGGER search_versions_bu BEFORE UPDATE ON versions
WHEN OLD.number = {current.format('OLD')} BEGIN
  {both(_unindex, 'OLD.article_id', 'OLD.number', ' AND v.id = OLD.id')}
END""",
        f"""CREATE TRIGGER search_versions_au AFTER UPDATE ON versions
WHEN NEW.number = {current.format('NEW')} BEGIN
  {both(_index, 'NEW.article_id', 'NEW.number', ' AND v.id = NEW.id')}
END""",
        f"""CREATE TRIGGER search_versions_bd BEFORE DELETE ON versions
WHEN OLD.number = {current.format('OLD')} BEGIN
  {both(_unindex, 'OLD.article_id', 'OLD.number', ' AND v.id = OLD.id')}
END""",
    ]


SQLITE_TRIGGER_NAMES = ("search_articles_au", "search_articles_ai", "search_articles_bd", "search_versions_ai",
                        "search_versions_bu", "search_versions_au", "search_versions_bd")


def _upgrade_sqlite() -> None:
    op.execute("""CREATE VIEW search_exact_src AS
SELECT a.id AS article_id, v.title AS title, v.lead AS lead, v.text AS text
FROM articles a JOIN versions v ON v.article_id = a.id AND v.number = a.current_version""")
    title, lead, text = (_sqlite_fold(f"s.{c}") for c in ("title", "lead", "text"))
    op.execute(f"""CREATE VIEW search_folded_src AS
SELECT s.article_id AS article_id, {title} AS title, {lead} AS lead, {text} AS text
FROM search_exact_src s""")
    for table, diacritics in (("search_exact", 0), ("search_folded", 2)):
        op.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(title, lead, text, content='{table}_src', "
                   f"content_rowid='article_id', tokenize='unicode61 remove_diacritics {diacritics}')")
    for ddl in sqlite_triggers():
        op.execute(ddl)
    # index what the archive already holds
    for table in TABLES:
        op.execute(f"INSERT INTO {table}({table}) VALUES('rebuild')")


def _downgrade_sqlite() -> None:
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP VIEW IF EXISTS search_folded_src")
    op.execute("DROP VIEW IF EXISTS search_exact_src")


def _upgrade_postgresql() -> None:
    fold_from = PG_FOLD_FROM.replace("'", "''")
    fold_to = PG_FOLD_TO.replace("'", "''")
    # PostgreSQL's parser drops anything that looks like an HTML tag or entity ("<script>" would vanish, while
    # FTS5 indexes the word): make them plain punctuation first
    op.execute("""CREATE FUNCTION search_plain(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT translate(normalize(t, NFC), '<>&', '   ') $$""")
    op.execute(f"""CREATE FUNCTION search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT lower(translate(search_plain(t), '{fold_from}', '{fold_to}')) $$""")
    op.execute("""CREATE TABLE search_docs (
    article_id integer PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    folded tsvector NOT NULL,
    exact tsvector NOT NULL)""")
    op.execute("CREATE INDEX search_docs_folded_gin ON search_docs USING gin (folded)")
    op.execute("CREATE INDEX search_docs_exact_gin ON search_docs USING gin (exact)")
    # weights: A title, B lead, D text; text capped so a huge page cannot exceed tsvector's 1 MB and fail the write
    vec = ("setweight(to_tsvector('simple', {f}(v.title)), 'A') || "
           "setweight(to_tsvector('simple', {f}(v.lead)), 'B') || "
           "setweight(to_tsvector('simple', {f}(left(v.text, 200000))), 'D')")
    op.execute(f"""CREATE FUNCTION search_reindex(aid integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_docs WHERE article_id = aid;
  INSERT INTO search_docs (article_id, folded, exact)
  SELECT a.id, {vec.format(f='search_fold')}, {vec.format(f='search_plain')}
  FROM articles a JOIN versions v ON v.article_id = a.id AND v.number = a.current_version
  WHERE a.id = aid;
END $$""")
    op.execute("""CREATE FUNCTION search_articles_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.current_version IS DISTINCT FROM OLD.current_version THEN
    PERFORM search_reindex(NEW.id);
  END IF;
  RETURN NULL;
END $$""")
    op.execute("""CREATE FUNCTION search_versions_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM articles a WHERE a.id = OLD.article_id
                                   AND a.current_version = OLD.number) THEN
    PERFORM search_reindex(OLD.article_id);
  END IF;
  IF TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM articles a WHERE a.id = NEW.article_id
                                   AND a.current_version = NEW.number) THEN
    PERFORM search_reindex(NEW.article_id);
  END IF;
  RETURN NULL;
END $$""")
    op.execute("""CREATE TRIGGER search_articles AFTER INSERT OR UPDATE OF current_version ON articles
FOR EACH ROW EXECUTE FUNCTION search_articles_trg()""")
    op.execute("""CREATE TRIGGER search_versions AFTER INSERT OR UPDATE OR DELETE ON versions
FOR EACH ROW EXECUTE FUNCTION search_versions_trg()""")
    op.execute("SELECT search_reindex(id) FROM articles WHERE current_version > 0")


def _downgrade_postgresql() -> None:
    op.execute("DROP TRIGGER IF EXISTS search_versions ON versions")
    op.execute("DROP TRIGGER IF EXISTS search_articles ON articles")
    op.execute("DROP FUNCTION IF EXISTS search_versions_trg()")
    op.execute("DROP FUNCTION IF EXISTS search_articles_trg()")
    op.execute("DROP FUNCTION IF EXISTS search_reindex(integer)")
    op.execute("DROP TABLE IF EXISTS search_docs")
    op.execute("DROP FUNCTION IF EXISTS search_fold(text)")
    op.execute("DROP FUNCTION IF EXISTS search_plain(text)")


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _upgrade_sqlite()
    elif dialect == "postgresql":
        _upgrade_postgresql()
    else:
        raise NotImplementedError(f"full-text search is not implemented for {dialect}")


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _downgrade_sqlite()
    elif dialect == "postgresql":
        _downgrade_postgresql()
