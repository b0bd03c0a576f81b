/** Help text of the offline model commands (kept apart so `bellwether help` loads nothing heavy). */
export const MODEL_COMMANDS_USAGE = `Model commands:
  bellwether dataset --input FILE [--format F] --cutoffs D,D,... --out FILE|-
                     [--churn-days 90] [--intent-days 14]          point-in-time rows (.csv → CSV, else NDJSON)
  bellwether train --model churn|intent [--input FILE] [--format F] [--cutoffs D,...]
                   [--validation-cutoff D] [--test-cutoff D] [--out DIR] [--version V] [--seed N] [--force]
                   [--kind mlp|fusion] [--reference DIR]     fusion = logistic regression + boosted trees
  bellwether train --model churn|intent --from-stream [--nats-url URL] [same cutoff/out/version flags]
                   retrain from the events streams; the new version is NOT made live, compared with the live one
  bellwether eval --model DIR|churn|intent [--input FILE] [--format F] [--cutoff D] [--json] [--seed N]
  bellwether clv fit [--input FILE] [--format F] --calibration-end D [--unit weeks|days]
                     [--holdout-end D] [--json] [--out DIR [--version V] [--force]]
                     (purchases of day D are in the calibration; the holdout starts the day after)
  bellwether clv fit --from-stream [--nats-url URL] [--calibration-end D] [--unit U] [--out DIR] [--json]
                     fit the events streams' history into the next BW_MODELS_DIR/clv-params version
  bellwether baskets eval [--input FILE] [--cutoff 2011-09-01] [--json]
                          next-best category vs popularity and bought-together, hit@5/@10
  F = online-retail | cdnow | ndjson (guessed from the file name); D = YYYY-MM-DD (UTC)
`;
