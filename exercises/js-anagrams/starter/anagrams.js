export function groupAnagrams(words) {
  // TODO: put words that are anagrams of each other in the same group,
  // sort each group, then order the groups by their first word.
  return words.map((word) => [word]);
}
