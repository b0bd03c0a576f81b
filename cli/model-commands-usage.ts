/** Help text of the offline model commands (kept apart so `bellwether help` loads nothing heavy). */
export const MODEL_COMMANDS_USAGE = `Model commands:
  bellwether dataset --input FILE [--format F] --cutoffs D,D,... --out FILE|-
                     [--churn-days 90] [--intent-days 14]          point-in-time rows (.csv → CSV, else NDJSON)
  bellwether train --model churn|intent [--input FILE] [--format F] [--cutoffs D,...]
                   [--validation-cutoff D] [--test-cutoff D] [--out DIR] [--version V] [--seed N] [--force]
                   [--kind mlp|fusion] [--reference DIR]     fusion = logistic regression + boosted trees
  bellwether eval --model DIR|churn|intent [--input FILE] [--format F] [--cutoff D] [--json] [--seed N]
  bellwether clv fit [--input FILE] [--format F] --calibration-end D [--unit weeks|days]
                     [--holdout-end D] [--json] [--out DIR [--version V] [--force]]
  bellwether baskets eval [--input FILE] [--cutoff 2011-09-01] [--json]
                          next-best category vs popularity and bought-together, hit@5/@10
  F = online-retail | cdnow | ndjson (guessed from the file name); D = YYYY-MM-DD (UTC)
`;
