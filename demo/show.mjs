// Small printing helpers shared by the demo parts.
export function heading(text) {
  console.log(`\n== ${text} ${'='.repeat(Math.max(0, 70 - text.length))}`)
}

export function step(text) {
  console.log(`-> ${text}`)
}

export function table(rows, columns) {
  if (rows.length === 0) {
    console.log('   (none)')
    return
  }
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)))
  const line = (vals) => '   ' + vals.map((v, i) => v.padEnd(widths[i])).join('  ')
  console.log(line(columns))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of cells) console.log(line(row))
}
