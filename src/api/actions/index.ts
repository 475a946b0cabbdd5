import type { Action } from './context.ts';
import * as media from './media.ts';
import * as status from './status.ts';
import * as info from './info.ts';
import * as presets from './presets.ts';
import * as users from './users.ts';

/** Every action, keyed by its lower-cased name (clients send any letter case). */
export const ACTIONS: Record<string, Action> = {
  addmedia: media.addMedia,
  addmediabenchmark: media.addMediaBenchmark,
  processmedia: media.processMedia,
  updatemedia: media.updateMedia,
  cancelmedia: media.cancelMedia,
  stopmedia: media.stopMedia,
  restartmedia: media.restartMedia,
  restartmediaerrors: media.restartMediaErrors,
  restartmediatask: media.restartMediaTask,
  getstatus: status.getStatus,
  gettaskstatus: status.getTaskStatus,
  getmedialist: status.getMediaList,
  getmediainfo: info.getMediaInfo,
  getmediainfoex: info.getMediaInfoEx,
  savepreset: presets.savePreset,
  getpreset: presets.getPreset,
  getpresetslist: presets.getPresetsList,
  deletepreset: presets.deletePreset,
  getuserinfo: users.getUserInfo,
};

/**
 * The dry runs behind the dashboard's form check (`POST /dashboard/api/check`): each runs every
 * check of the action of that name and stores nothing.
 */
export const CHECKS: Record<string, Action> = {
  addmedia: media.checkAddMedia,
  savepreset: presets.checkSavePreset,
};
