-- The persons of a vets database as a CSV with the import template's Chinese
-- headers (required columns marked with *, as in the template), code values
-- written as their names the way staff fill the template in, categories
-- joined with 、 and their attributes in the template's extra columns.
-- The ID numbers are stored sealed (SM4), so they come from vets' own export
-- (GET /api/v1/persons/export.xlsx?full=1): the caller fills the temporary
-- table ids(id, id_number) from its 档案编号 and 身份证号码 columns first.
-- Used by bench/run.sh: sqlite3 -csv -header vets.db, then .read this file.
-- Ordered by id, so `head -n 100001` gives the first 100 000 rows.
WITH cat AS (
  SELECT c.person_id,
         group_concat(k.name, '、') AS names,
         max(CASE WHEN c.category = '1' THEN dc.name END) AS cause,
         max(CASE WHEN c.category = '1' THEN c.disability_grade END) AS grade,
         max(c.certificate_no) AS cert,
         max(CASE WHEN c.category IN ('21','22','23') THEN c.deceased_name END) AS deceased,
         max(CASE WHEN c.category IN ('21','22','23') THEN rl.name END) AS relation
  FROM person_categories c
  JOIN codes k ON k.tbl = 'person_category' AND k.code = c.category
  LEFT JOIN codes dc ON dc.tbl = 'disability_cause' AND dc.code = c.disability_cause
  LEFT JOIN codes rl ON rl.tbl = 'relation' AND rl.code = c.relation
  WHERE c.valid_to IS NULL
  GROUP BY c.person_id
)
SELECT p.name AS "姓名*", ids.id_number AS "身份证号码*",
       (SELECT name FROM codes WHERE tbl = 'sex' AND code = p.sex) AS "性别",
       p.birth_date AS "出生日期",
       (SELECT name FROM codes WHERE tbl = 'ethnic' AND code = p.ethnic) AS "民族",
       p.phone AS "联系电话", p.hukou_address AS "户籍地址",
       (SELECT name FROM codes WHERE tbl = 'hukou_type' AND code = p.hukou_type) AS "户籍类型",
       p.current_address AS "现居住地址", p.region_code AS "所属村社区*",
       (SELECT name FROM codes WHERE tbl = 'person_status' AND code = p.status) AS "人员状态",
       -- The demo generator can date a death a few days after today, which the
       -- importer rightly refuses: clamp so that every row is valid.
       min(p.status_date, date('now')) AS "状态日期", p.status_note AS "状态说明", p.bank_name AS "开户银行",
       NULL AS "银行账号", p.remarks AS "备注",   -- sealed too; the demo data has none
       (SELECT name FROM codes WHERE tbl = 'branch' AND code = p.branch) AS "军种",
       p.enlist_date AS "入伍日期", p.discharge_date AS "退役日期", p.rank_text AS "退役时军衔",
       (SELECT name FROM codes WHERE tbl = 'placement_route' AND code = p.discharge_type) AS "退役安置方式",
       nullif(p.award_peace_commendation, 0) AS "嘉奖次数（平时）",
       nullif(p.award_peace_third, 0) AS "三等功次数（平时）",
       nullif(p.award_peace_second, 0) AS "二等功次数（平时）",
       nullif(p.award_peace_first, 0) AS "一等功次数（平时）",
       nullif(p.award_war_commendation, 0) AS "嘉奖次数（战时）",
       nullif(p.award_war_third, 0) AS "三等功次数（战时）",
       nullif(p.award_war_second, 0) AS "二等功次数（战时）",
       nullif(p.award_war_first, 0) AS "一等功次数（战时）",
       (SELECT name FROM codes WHERE tbl = 'hardship_class' AND code = p.hardship_class) AS "艰苦边远地区类别",
       nullif(p.hardship_months, 0) AS "艰苦边远地区服役月数",
       (SELECT name FROM codes WHERE tbl = 'island_class' AND code = p.island_class) AS "海岛类别",
       nullif(p.island_months, 0) AS "海岛服役月数",
       nullif(p.combat_days, 0) AS "参战天数",
       cat.names AS "优抚类别", cat.cause AS "伤残性质", cat.grade AS "伤残等级", cat.cert AS "优抚证件编号",
       cat.deceased AS "烈士（牺牲、病故军人）姓名", cat.relation AS "与烈士（军人）关系"
FROM persons p JOIN ids ON ids.id = p.id LEFT JOIN cat ON cat.person_id = p.id
ORDER BY p.id;
